// Command kitaddsvc serves Go kit's addsvc HTTP transport (sum, concat),
// with its business rules and its error encoding, through Go kit itself.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
)

var (
	errTwoZeroes       = errors.New("can't sum two zeroes")
	errIntOverflow     = errors.New("integer overflow")
	errMaxSizeExceeded = errors.New("result exceeds maximum size")
)

const (
	intMax = 1<<31 - 1
	intMin = -(intMax + 1)
	maxLen = 10
)

func sum(a, b int) (int, error) {
	if a == 0 && b == 0 {
		return 0, errTwoZeroes
	}
	if (b > 0 && a > (intMax-b)) || (b < 0 && a < (intMin-b)) {
		return 0, errIntOverflow
	}
	return a + b, nil
}

func concat(a, b string) (string, error) {
	if len(a)+len(b) > maxLen {
		return "", errMaxSizeExceeded
	}
	return a + b, nil
}

type sumRequest struct{ A, B int }

type sumResponse struct {
	V   int   `json:"v"`
	Err error `json:"-"`
}

func (r sumResponse) Failed() error { return r.Err }

type concatRequest struct{ A, B string }

type concatResponse struct {
	V   string `json:"v"`
	Err error  `json:"-"`
}

func (r concatResponse) Failed() error { return r.Err }

var (
	_ endpoint.Failer = sumResponse{}
	_ endpoint.Failer = concatResponse{}
)

type errorWrapper struct {
	Error string `json:"error"`
}

func err2code(err error) int {
	switch err {
	case errTwoZeroes, errMaxSizeExceeded, errIntOverflow:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func errorEncoder(_ context.Context, err error, w http.ResponseWriter) {
	w.WriteHeader(err2code(err))
	json.NewEncoder(w).Encode(errorWrapper{Error: err.Error()})
}

func encodeGenericResponse(ctx context.Context, w http.ResponseWriter, response interface{}) error {
	if f, ok := response.(endpoint.Failer); ok && f.Failed() != nil {
		errorEncoder(ctx, f.Failed(), w)
		return nil
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	return json.NewEncoder(w).Encode(response)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	sumEndpoint := func(_ context.Context, request interface{}) (interface{}, error) {
		req := request.(sumRequest)
		v, err := sum(req.A, req.B)
		return sumResponse{V: v, Err: err}, nil
	}
	concatEndpoint := func(_ context.Context, request interface{}) (interface{}, error) {
		req := request.(concatRequest)
		v, err := concat(req.A, req.B)
		return concatResponse{V: v, Err: err}, nil
	}
	options := []httptransport.ServerOption{httptransport.ServerErrorEncoder(errorEncoder)}
	m := http.NewServeMux()
	m.Handle("/sum", httptransport.NewServer(sumEndpoint, func(_ context.Context, r *http.Request) (interface{}, error) {
		var req sumRequest
		err := json.NewDecoder(r.Body).Decode(&req)
		return req, err
	}, encodeGenericResponse, options...))
	m.Handle("/concat", httptransport.NewServer(concatEndpoint, func(_ context.Context, r *http.Request) (interface{}, error) {
		var req concatRequest
		err := json.NewDecoder(r.Body).Decode(&req)
		return req, err
	}, encodeGenericResponse, options...))
	log.Printf("kitaddsvc listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, m))
}
