// Command kittrace is Go kit's zipkin tracing, for the trace interop
// tests: with -mode server it serves stringsvc's uppercase with Go kit's
// HTTPServerTrace; with -mode client it calls uppercase once through Go
// kit's HTTP client with HTTPClientTrace, inside a root span of its own.
// Both report to the Zipkin collector at -zipkin with zipkin-go's HTTP
// reporter.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	kitzipkin "github.com/go-kit/kit/tracing/zipkin"
	httptransport "github.com/go-kit/kit/transport/http"
	zipkin "github.com/openzipkin/zipkin-go"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
)

type uppercaseRequest struct {
	S string `json:"s"`
}

type uppercaseResponse struct {
	V   string `json:"v"`
	Err string `json:"err,omitempty"`
}

func main() {
	mode := flag.String("mode", "server", "server or client")
	listen := flag.String("listen", "127.0.0.1:8080", "where the server listens")
	target := flag.String("url", "http://127.0.0.1:8080", "the service the client calls")
	collector := flag.String("zipkin", "http://127.0.0.1:9411/api/v2/spans", "the Zipkin collector")
	service := flag.String("service", "kitsvc", "the service name in spans")
	flag.Parse()

	reporter := zipkinhttp.NewReporter(*collector, zipkinhttp.BatchInterval(100*time.Millisecond))
	defer reporter.Close()
	tracer, err := zipkin.NewTracer(reporter, zipkin.WithLocalEndpoint(endpointFor(*service)))
	if err != nil {
		panic(err)
	}

	if *mode == "client" {
		u, err := url.Parse(*target + "/uppercase")
		if err != nil {
			panic(err)
		}
		call := httptransport.NewClient("POST", u,
			httptransport.EncodeJSONRequest,
			func(_ context.Context, r *http.Response) (interface{}, error) {
				var resp uppercaseResponse
				err := json.NewDecoder(r.Body).Decode(&resp)
				return resp, err
			},
			kitzipkin.HTTPClientTrace(tracer),
		).Endpoint()
		root := tracer.StartSpan("kitcli")
		ctx := zipkin.NewContext(context.Background(), root)
		out, err := call(ctx, uppercaseRequest{S: "traced"})
		root.Finish()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(out.(uppercaseResponse).V)
		return
	}

	var uppercase endpoint.Endpoint = func(_ context.Context, request interface{}) (interface{}, error) {
		req := request.(uppercaseRequest)
		if req.S == "" {
			return uppercaseResponse{"", "empty string"}, nil
		}
		return uppercaseResponse{strings.ToUpper(req.S), ""}, nil
	}
	handler := httptransport.NewServer(uppercase,
		func(_ context.Context, r *http.Request) (interface{}, error) {
			var req uppercaseRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				return nil, errors.New("bad request")
			}
			return req, nil
		},
		httptransport.EncodeJSONResponse,
		kitzipkin.HTTPServerTrace(tracer),
	)
	http.Handle("/uppercase", handler)
	panic(http.ListenAndServe(*listen, nil))
}

// endpointFor names this process in its spans.
func endpointFor(service string) *zipkinmodel.Endpoint {
	return &zipkinmodel.Endpoint{ServiceName: service}
}
