// Command kitcli calls a stringsvc or addsvc through Go kit's HTTP client
// and prints the outcome as one JSON object: {"status":..., "body":...} for
// any response, or {"error":...} when the call itself failed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"net/http"
	"net/url"
	"os"

	httptransport "github.com/go-kit/kit/transport/http"
)

type outcome struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the service's base URL")
	method := flag.String("method", "uppercase", "uppercase, count, sum or concat")
	body := flag.String("body", "{}", "the request, as JSON")
	httpMethod := flag.String("http-method", "POST", "the HTTP method (Go kit's stringsvc3 proxies with GET)")
	flag.Parse()

	target, err := url.Parse(*base + "/" + *method)
	if err != nil {
		fail(err)
	}
	var request interface{}
	if err := json.Unmarshal([]byte(*body), &request); err != nil {
		fail(err)
	}
	decode := func(_ context.Context, r *http.Response) (interface{}, error) {
		raw, err := ioutil.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		return outcome{Status: r.StatusCode, Body: json.RawMessage(bytes.TrimSpace(raw))}, nil
	}
	call := httptransport.NewClient(*httpMethod, target, httptransport.EncodeJSONRequest, decode).Endpoint()
	response, err := call(context.Background(), request)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(response)
	fmt.Println(string(out))
}

func fail(err error) {
	out, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Println(string(out))
	os.Exit(1)
}
