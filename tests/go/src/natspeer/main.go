// Command natspeer is Go's own NATS client (nats.go) on the other side of
// synkit's NATS transport, speaking stringsvc's JSON bodies:
//
//	-mode request: sends -data to -subject once with nc.Request and prints
//	the reply's payload, or {"error":"…"};
//	-mode serve: answers requests on -subject (in queue group -queue, if
//	given) as stringsvc does — uppercase {"s":…} → {"v":…} ("empty
//	string" in err for ""), count {"s":…} → {"v":len} — adding "by":-tag
//	when a tag is given, until killed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

type request struct {
	S string `json:"s"`
}

func main() {
	mode := flag.String("mode", "request", "request or serve")
	url := flag.String("url", nats.DefaultURL, "the NATS server")
	subject := flag.String("subject", "stringsvc.uppercase", "the subject")
	data := flag.String("data", `{"s":"hello"}`, "with -mode request: the payload")
	timeout := flag.Duration("timeout", 2*time.Second, "with -mode request: how long to wait")
	queue := flag.String("queue", "", "with -mode serve: the queue group")
	tag := flag.String("tag", "", "with -mode serve: added to every answer as \"by\"")
	flag.Parse()

	nc, err := nats.Connect(*url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()

	if *mode == "request" {
		msg, err := nc.Request(*subject, []byte(*data), *timeout)
		if err != nil {
			b, _ := json.Marshal(map[string]string{"error": err.Error()})
			fmt.Println(string(b))
			return
		}
		fmt.Println(string(msg.Data))
		return
	}

	handle := func(msg *nats.Msg) {
		var req request
		answer := map[string]interface{}{}
		if err := json.Unmarshal(msg.Data, &req); err != nil {
			answer["err"] = err.Error()
		} else if strings.HasSuffix(msg.Subject, ".count") {
			answer["v"] = len(req.S)
		} else if req.S == "" {
			answer["v"] = ""
			answer["err"] = "empty string"
		} else {
			answer["v"] = strings.ToUpper(req.S)
		}
		if *tag != "" {
			answer["by"] = *tag
		}
		b, _ := json.Marshal(answer)
		_ = msg.Respond(b)
	}
	if *queue != "" {
		_, err = nc.QueueSubscribe(*subject, *queue, handle)
	} else {
		_, err = nc.Subscribe(*subject, handle)
	}
	if err != nil {
		panic(err)
	}
	if err := nc.Flush(); err != nil {
		panic(err)
	}
	select {}
}
