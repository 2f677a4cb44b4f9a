// Command kitnetrpc is Go's own net/rpc, for the interop tests, in each
// of its codecs (-codec): json (net/rpc/jsonrpc on a bare connection),
// gob (Go's default codec on a bare connection: rpc.ServeConn, rpc.Dial)
// and http (gob behind CONNECT /_goRPC_: rpc.HandleHTTP, rpc.DialHTTP).
// With -mode server it serves addsvc.Sum and addsvc.Concat on -listen;
// with -mode client it calls -method with -params (a JSON object) once and
// prints {"reply":…} or {"error":"…"}; with -mode load it calls in loops.
//
// With gob the arguments and replies are typed as Go kit's old addsvc
// netrpc binding had them (SumRequest{A, B int}, reply {V int}).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"sort"
	"sync"
	"time"
)

// Args are addsvc's two operands, as its HTTP transport names them.
type Args struct {
	A json.RawMessage `json:"a"`
	B json.RawMessage `json:"b"`
}

// Reply is addsvc's answer.
type Reply struct {
	V interface{} `json:"v"`
}

// Addsvc is the service registered as "addsvc".
type Addsvc struct{}

// Sum adds two integers; both zero is an error, as Go kit's addsvc says.
func (Addsvc) Sum(args Args, reply *Reply) error {
	var a, b int
	if err := json.Unmarshal(args.A, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(args.B, &b); err != nil {
		return err
	}
	if a == 0 && b == 0 {
		return errors.New("can't sum two zeroes")
	}
	reply.V = a + b
	return nil
}

// Concat joins two strings.
func (Addsvc) Concat(args Args, reply *Reply) error {
	var a, b string
	if err := json.Unmarshal(args.A, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(args.B, &b); err != nil {
		return err
	}
	reply.V = a + b
	return nil
}

// SumRequest and the rest are the gob codec's types.
type SumRequest struct{ A, B int }
type SumReply struct {
	V int `json:"v"`
}
type ConcatRequest struct{ A, B string }
type ConcatReply struct {
	V string `json:"v"`
}

// GobAddsvc is addsvc with typed arguments, for the gob codec.
type GobAddsvc struct{}

// Sum adds two integers; both zero is an error.
func (GobAddsvc) Sum(args SumRequest, reply *SumReply) error {
	if args.A == 0 && args.B == 0 {
		return errors.New("can't sum two zeroes")
	}
	reply.V = args.A + args.B
	return nil
}

// Concat joins two strings.
func (GobAddsvc) Concat(args ConcatRequest, reply *ConcatReply) error {
	reply.V = args.A + args.B
	return nil
}

// typed is the gob argument and reply for method, the argument filled
// from params.
func typed(method, params string) (interface{}, interface{}) {
	if method == "addsvc.Concat" {
		var args ConcatRequest
		_ = json.Unmarshal([]byte(params), &args)
		return args, new(ConcatReply)
	}
	var args SumRequest
	_ = json.Unmarshal([]byte(params), &args)
	return args, new(SumReply)
}

// dial connects with the codec's own client.
func dial(codec, addr string) (*rpc.Client, error) {
	switch codec {
	case "gob":
		return rpc.Dial("tcp", addr)
	case "http":
		return rpc.DialHTTP("tcp", addr)
	}
	return jsonrpc.Dial("tcp", addr)
}

// call makes one call with the codec's types and gives the reply as JSON.
func call(client *rpc.Client, codec, method, params string) ([]byte, error) {
	if codec == "json" {
		var reply json.RawMessage
		err := client.Call(method, json.RawMessage(params), &reply)
		return reply, err
	}
	args, reply := typed(method, params)
	if err := client.Call(method, args, reply); err != nil {
		return nil, err
	}
	return json.Marshal(reply)
}

func main() {
	mode := flag.String("mode", "server", "server, client or load")
	codec := flag.String("codec", "json", "json, gob or http")
	listen := flag.String("listen", "127.0.0.1:8085", "where the server listens")
	addr := flag.String("addr", "127.0.0.1:8085", "the server the client calls")
	method := flag.String("method", "addsvc.Sum", "the method the client calls")
	params := flag.String("params", `{"a":1,"b":2}`, "the argument, as JSON")
	conns := flag.Int("c", 0, "with -mode load: connections, each a goroutine calling in a loop")
	duration := flag.Duration("d", 5*time.Second, "with -mode load: how long")
	flag.Parse()

	if *mode == "load" {
		load(*codec, *addr, *method, *params, *conns, *duration)
		return
	}

	if *mode == "client" {
		client, err := dial(*codec, *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		reply, err := call(client, *codec, *method, *params)
		if err != nil {
			b, _ := json.Marshal(map[string]string{"error": err.Error()})
			fmt.Println(string(b))
			return
		}
		fmt.Printf("{\"reply\":%s}\n", reply)
		return
	}

	server := rpc.NewServer()
	var service interface{} = Addsvc{}
	if *codec != "json" {
		service = GobAddsvc{}
	}
	if err := server.RegisterName("addsvc", service); err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		panic(err)
	}
	if *codec == "http" {
		server.HandleHTTP(rpc.DefaultRPCPath, rpc.DefaultDebugPath)
		panic(http.Serve(ln, nil))
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		if *codec == "gob" {
			go server.ServeConn(conn)
		} else {
			go server.ServeCodec(jsonrpc.NewServerCodec(conn))
		}
	}
}

// load calls method on addr from conns connections, each in a closed
// loop, for d, and prints calls/s and the 50th and 99th percentile
// latencies in microseconds as one JSON object.
func load(codec, addr, method, params string, conns int, d time.Duration) {
	var mu sync.Mutex
	var all []time.Duration
	var failed int
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client, err := dial(codec, addr)
			if err != nil {
				panic(err)
			}
			defer client.Close()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(stop) {
				start := time.Now()
				if _, err := call(client, codec, method, params); err != nil {
					bad++
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			failed += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) int64 {
		if len(all) == 0 {
			return 0
		}
		return all[int(float64(len(all)-1)*p)].Microseconds()
	}
	fmt.Printf("{\"calls\":%d,\"per_s\":%.0f,\"p50_us\":%d,\"p99_us\":%d,\"failed\":%d}\n",
		len(all), float64(len(all))/d.Seconds(), pct(0.50), pct(0.99), failed)
}
