// Command gobcases prints how Go's own encoding/gob encodes a fixed set of
// values, for the byte-for-byte tests of synkit's gob codec: -list names
// the cases; -case NAME prints that case's stream in hex, encoded by a
// fresh Encoder in this fresh process (gob grants type ids per process, so
// each case runs alone); -decode NAME reads a gob stream on stdin, decodes
// it as that case's types and prints the values as JSON.
package main

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/rpc"
	"os"
)

type SumRequest struct {
	A int
	B int
}

type ConcatResponse struct {
	V   string
	Err string
}

type Inner struct {
	X  float64
	Ok bool
}

type Outer struct {
	Name   string
	Inner  Inner
	Tags   []string
	Counts map[string]int
	Size   uint64
	Raw    []byte
	Ptr    *int
	Items  []Inner
	Small  int8
}

func cases() []struct {
	name  string
	value []interface{}
} {
	seven := 7
	return []struct {
		name  string
		value []interface{}
	}{
		{"int_7", []interface{}{7}},
		{"int_0", []interface{}{0}},
		{"int_neg1", []interface{}{-1}},
		{"int_300", []interface{}{300}},
		{"int_min", []interface{}{math.MinInt64}},
		{"uint_256", []interface{}{uint64(256)}},
		{"uint_max", []interface{}{uint64(math.MaxUint64)}},
		{"string", []interface{}{"hello"}},
		{"string_empty", []interface{}{""}},
		{"bool", []interface{}{true}},
		{"float_1_5", []interface{}{1.5}},
		{"float_neg", []interface{}{-17.25}},
		{"bytes", []interface{}{[]byte{1, 2, 3}}},
		{"sum_request", []interface{}{SumRequest{A: 1, B: 2}}},
		{"sum_request_zero_a", []interface{}{SumRequest{A: 0, B: 5}}},
		{"sum_request_twice", []interface{}{SumRequest{A: 1, B: 2}, SumRequest{A: 3, B: 4}}},
		{"concat_response", []interface{}{ConcatResponse{V: "ab"}}},
		{"ints", []interface{}{[]int{1, 2, 3}}},
		{"strings", []interface{}{[]string{"a", ""}}},
		{"map", []interface{}{map[string]int{"a": 1}}},
		{"outer", []interface{}{Outer{
			Name:   "n",
			Inner:  Inner{X: 2.5, Ok: true},
			Tags:   []string{"x", "y"},
			Counts: map[string]int{"k": -3},
			Size:   1 << 40,
			Raw:    []byte("raw"),
			Ptr:    &seven,
			Items:  []Inner{{X: 1}, {}},
			Small:  -2,
		}}},
		{"outer_zero", []interface{}{Outer{}}},
		{"rpc_call", []interface{}{
			rpc.Request{ServiceMethod: "addsvc.Sum", Seq: 0}, SumRequest{A: 1, B: 2},
			rpc.Request{ServiceMethod: "addsvc.Sum", Seq: 1}, SumRequest{A: 3, B: 4},
		}},
		{"rpc_answer", []interface{}{
			rpc.Response{ServiceMethod: "addsvc.Sum", Seq: 1}, 7,
			rpc.Response{ServiceMethod: "addsvc.Sum", Seq: 0, Error: "boom"}, struct{}{},
		}},
	}
}

func main() {
	decode := flag.String("decode", "", "decode stdin as this case's type")
	one := flag.String("case", "", "print this case's encoding")
	list := flag.Bool("list", false, "name the cases")
	flag.Parse()
	if *list {
		for _, c := range cases() {
			fmt.Println(c.name)
		}
		return
	}
	if *decode != "" {
		for _, c := range cases() {
			if c.name != *decode {
				continue
			}
			dec := gob.NewDecoder(os.Stdin)
			var out []interface{}
			for _, v := range c.value {
				p := newOf(v)
				if err := dec.Decode(p); err != nil {
					fmt.Println(`{"error":` + quote(err.Error()) + `}`)
					return
				}
				out = append(out, p)
			}
			b, _ := json.Marshal(out)
			fmt.Println(string(b))
			return
		}
		fmt.Fprintln(os.Stderr, "no such case")
		os.Exit(2)
	}
	for _, c := range cases() {
		if c.name != *one {
			continue
		}
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		for _, v := range c.value {
			if err := enc.Encode(v); err != nil {
				panic(err)
			}
		}
		fmt.Println(hex.EncodeToString(buf.Bytes()))
		return
	}
	fmt.Fprintln(os.Stderr, "no such case")
	os.Exit(2)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// newOf is a pointer to a new zero value of v's type.
func newOf(v interface{}) interface{} {
	switch v.(type) {
	case int:
		return new(int)
	case uint64:
		return new(uint64)
	case string:
		return new(string)
	case bool:
		return new(bool)
	case float64:
		return new(float64)
	case []byte:
		return new([]byte)
	case SumRequest:
		return new(SumRequest)
	case ConcatResponse:
		return new(ConcatResponse)
	case []int:
		return new([]int)
	case []string:
		return new([]string)
	case map[string]int:
		return new(map[string]int)
	case Outer:
		return new(Outer)
	case rpc.Request:
		return new(rpc.Request)
	case rpc.Response:
		return new(rpc.Response)
	case struct{}:
		return new(struct{})
	}
	panic(fmt.Sprintf("no case for %T", v))
}
