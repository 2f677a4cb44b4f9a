// Command kitlog writes records with Go kit's own loggers, so synkit's
// encoders can be compared with them byte for byte. It reads one JSON
// document from stdin: a list of records, each a list of [key, value]
// pairs, where a value is {"s": string}, {"i": int}, {"f": float},
// {"b": bool}, {"nil": true}, {"d": nanoseconds} (a time.Duration) or
// {"e": text} (an error). For each record it prints the logfmt line
// (log.NewLogfmtLogger), then the JSON line (log.NewJSONLogger).
package main

import (
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/go-kit/kit/log"
)

type value struct {
	S   *string  `json:"s"`
	I   *int64   `json:"i"`
	F   *float64 `json:"f"`
	B   *bool    `json:"b"`
	Nil bool     `json:"nil"`
	D   *int64   `json:"d"`
	E   *string  `json:"e"`
}

func (v value) native() interface{} {
	switch {
	case v.S != nil:
		return *v.S
	case v.I != nil:
		return *v.I
	case v.F != nil:
		return *v.F
	case v.B != nil:
		return *v.B
	case v.D != nil:
		return time.Duration(*v.D)
	case v.E != nil:
		return errors.New(*v.E)
	default:
		var err error
		return err
	}
}

func main() {
	var records [][][2]json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&records); err != nil {
		panic(err)
	}
	logfmt := log.NewLogfmtLogger(os.Stdout)
	jsonl := log.NewJSONLogger(os.Stdout)
	for _, record := range records {
		var keyvals []interface{}
		for _, pair := range record {
			var key string
			var v value
			if err := json.Unmarshal(pair[0], &key); err != nil {
				panic(err)
			}
			if err := json.Unmarshal(pair[1], &v); err != nil {
				panic(err)
			}
			keyvals = append(keyvals, key, v.native())
		}
		logfmt.Log(keyvals...)
		jsonl.Log(keyvals...)
	}
}
