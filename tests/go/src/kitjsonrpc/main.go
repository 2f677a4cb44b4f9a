// Command kitjsonrpc is Go kit's own JSON-RPC transport (transport/http/
// jsonrpc, its Server and Client, unchanged) around addsvc-shaped
// endpoints, for the interop tests: with -mode server it serves "sum" and
// "concat" at -listen, with the codecs Go kit's addtransport uses; with
// -mode client it calls -method on -url with -params (JSON) once and
// prints {"result":…} or {"error":…}. The endpoints are this test's own:
// "sum" of two zeroes fails with a *jsonrpc.Error (code -32000), where Go
// kit's addsvc example would answer {"v":0} and drop the error (its
// response carries the error in a field JSON does not encode); what is
// under test is the transport, which is Go kit's code.
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

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/transport/http/jsonrpc"
)

type sumRequest struct {
	A int `json:"a"`
	B int `json:"b"`
}

type concatRequest struct {
	A string `json:"a"`
	B string `json:"b"`
}

type reply struct {
	V interface{} `json:"v"`
}

func main() {
	mode := flag.String("mode", "server", "server or client")
	listen := flag.String("listen", "127.0.0.1:8084", "where the server listens")
	target := flag.String("url", "http://127.0.0.1:8084/", "the server the client calls")
	method := flag.String("method", "sum", "the method the client calls")
	params := flag.String("params", `{"a":1,"b":2}`, "the params the client sends")
	flag.Parse()

	if *mode == "client" {
		u, err := url.Parse(*target)
		if err != nil {
			panic(err)
		}
		call := jsonrpc.NewClient(u, *method,
			jsonrpc.ClientRequestEncoder(func(_ context.Context, obj interface{}) (json.RawMessage, error) {
				return json.RawMessage(obj.(string)), nil
			}),
			jsonrpc.ClientResponseDecoder(func(_ context.Context, res jsonrpc.Response) (interface{}, error) {
				if res.Error != nil {
					return nil, *res.Error
				}
				return res.Result, nil
			}),
		).Endpoint()
		out, err := call(context.Background(), *params)
		var rpcErr jsonrpc.Error
		switch {
		case errors.As(err, &rpcErr):
			b, _ := json.Marshal(map[string]interface{}{"error": rpcErr})
			fmt.Println(string(b))
		case err != nil:
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		default:
			fmt.Printf("{\"result\":%s}\n", out.(json.RawMessage))
		}
		return
	}

	var sum endpoint.Endpoint = func(_ context.Context, request interface{}) (interface{}, error) {
		req := request.(sumRequest)
		if req.A == 0 && req.B == 0 {
			return nil, &jsonrpc.Error{Code: -32000, Message: "can't sum two zeroes"}
		}
		return reply{req.A + req.B}, nil
	}
	var concat endpoint.Endpoint = func(_ context.Context, request interface{}) (interface{}, error) {
		req := request.(concatRequest)
		return reply{req.A + req.B}, nil
	}
	codecs := jsonrpc.EndpointCodecMap{
		"sum": jsonrpc.EndpointCodec{
			Endpoint: sum,
			Decode: func(_ context.Context, msg json.RawMessage) (interface{}, error) {
				var req sumRequest
				if err := json.Unmarshal(msg, &req); err != nil {
					return nil, &jsonrpc.Error{Code: -32000, Message: fmt.Sprintf("couldn't unmarshal body to sum request: %s", err)}
				}
				return req, nil
			},
			Encode: func(_ context.Context, obj interface{}) (json.RawMessage, error) { return json.Marshal(obj) },
		},
		"concat": jsonrpc.EndpointCodec{
			Endpoint: concat,
			Decode: func(_ context.Context, msg json.RawMessage) (interface{}, error) {
				var req concatRequest
				if err := json.Unmarshal(msg, &req); err != nil {
					return nil, &jsonrpc.Error{Code: -32000, Message: fmt.Sprintf("couldn't unmarshal body to concat request: %s", err)}
				}
				return req, nil
			},
			Encode: func(_ context.Context, obj interface{}) (json.RawMessage, error) { return json.Marshal(obj) },
		},
	}
	http.Handle("/", jsonrpc.NewServer(codecs))
	panic(http.ListenAndServe(*listen, nil))
}
