// h2client makes HTTP requests over cleartext HTTP/2 with prior knowledge
// (h2c), as Go's golang.org/x/net/http2 Transport does with AllowHTTP, all
// at once on one connection, and prints what each got as JSON lines.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/net/http2"
)

type result struct {
	Status        int    `json:"status"`
	Proto         string `json:"proto"`
	ContentType   string `json:"content_type"`
	ContentLength int64  `json:"content_length"`
	Body          string `json:"body"`
	Err           string `json:"err"`
}

func main() {
	url := flag.String("url", "", "the URL to request")
	method := flag.String("method", "GET", "the request's method")
	body := flag.String("body", "", "the request's body")
	unsized := flag.Bool("unsized", false, "send the body without a content-length")
	header := flag.String("header", "", "one more request field, name:value")
	n := flag.Int("n", 1, "how many requests, all at once on one connection")
	flag.Parse()

	transport := &http2.Transport{
		AllowHTTP: true,
		DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
			return net.Dial(network, addr)
		},
	}
	client := &http.Client{Transport: transport}
	results := make([]result, *n)
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var reader io.Reader = strings.NewReader(*body)
			if *unsized {
				// A reader of unknown length: Go sends no content-length.
				reader = io.MultiReader(reader)
			}
			if *body == "" {
				reader = nil
			}
			req, err := http.NewRequest(*method, *url, reader)
			if err != nil {
				results[i].Err = err.Error()
				return
			}
			if name, value, ok := strings.Cut(*header, ":"); ok {
				req.Header.Set(name, value)
			}
			resp, err := client.Do(req)
			if err != nil {
				results[i].Err = err.Error()
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				results[i].Err = err.Error()
			}
			results[i].Status = resp.StatusCode
			results[i].Proto = resp.Proto
			results[i].ContentType = resp.Header.Get("Content-Type")
			results[i].ContentLength = resp.ContentLength
			results[i].Body = string(b)
		}(i)
	}
	wg.Wait()
	out := json.NewEncoder(os.Stdout)
	for _, r := range results {
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
