// Command kitstringsvc is Go kit's stringsvc1 (examples/stringsvc1 of Go
// kit 0.10), served by Go kit itself: the reference peer synkit's stringsvc
// must agree with byte for byte. Its behaviour is that example's, call for
// call: strings.ToUpper, Count as len(s) (bytes), json.NewDecoder(...).Decode,
// Go kit's default error encoder, and http.Handle (any method). The only
// additions are the -listen flag, so tests can pick a free port, and -h2c,
// which serves HTTP/2 with prior knowledge beside HTTP/1.1 as Go's
// golang.org/x/net/http2/h2c handler does (for the HTTP/2 benchmarks).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

var errEmpty = errors.New("empty string")

type uppercaseRequest struct {
	S string `json:"s"`
}

type uppercaseResponse struct {
	V   string `json:"v"`
	Err string `json:"err,omitempty"`
}

type countRequest struct {
	S string `json:"s"`
}

type countResponse struct {
	V int `json:"v"`
}

func uppercase(s string) (string, error) {
	if s == "" {
		return "", errEmpty
	}
	return strings.ToUpper(s), nil
}

func makeUppercaseEndpoint() endpoint.Endpoint {
	return func(_ context.Context, request interface{}) (interface{}, error) {
		req := request.(uppercaseRequest)
		v, err := uppercase(req.S)
		if err != nil {
			return uppercaseResponse{v, err.Error()}, nil
		}
		return uppercaseResponse{v, ""}, nil
	}
}

func makeCountEndpoint() endpoint.Endpoint {
	return func(_ context.Context, request interface{}) (interface{}, error) {
		req := request.(countRequest)
		return countResponse{len(req.S)}, nil
	}
}

func decodeUppercaseRequest(_ context.Context, r *http.Request) (interface{}, error) {
	var request uppercaseRequest
	if err := json.NewDecoder(r.Body).Decode(&request); err != nil {
		return nil, err
	}
	return request, nil
}

func decodeCountRequest(_ context.Context, r *http.Request) (interface{}, error) {
	var request countRequest
	if err := json.NewDecoder(r.Body).Decode(&request); err != nil {
		return nil, err
	}
	return request, nil
}

// As stringsvc1 writes it: no Content-Type, so net/http sniffs one.
func encodeResponse(_ context.Context, w http.ResponseWriter, response interface{}) error {
	return json.NewEncoder(w).Encode(response)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	cleartext2 := flag.Bool("h2c", false, "also serve HTTP/2 with prior knowledge")
	flag.Parse()
	http.Handle("/uppercase", httptransport.NewServer(makeUppercaseEndpoint(), decodeUppercaseRequest, encodeResponse))
	http.Handle("/count", httptransport.NewServer(makeCountEndpoint(), decodeCountRequest, encodeResponse))
	log.Printf("kitstringsvc listening on %s", *listen)
	var handler http.Handler = http.DefaultServeMux
	if *cleartext2 {
		handler = h2c.NewHandler(handler, &http2.Server{})
	}
	log.Fatal(http.ListenAndServe(*listen, handler))
}
