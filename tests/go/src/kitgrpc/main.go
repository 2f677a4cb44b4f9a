// Command kitgrpc is addsvc over Go kit 0.10's transport/grpc (its code
// unchanged, from Debian) with Go's grpc, for the interop tests. With
// -mode server it serves pb.Add on -listen: Sum and Concat as Go kit's
// addsvc rules have them (two zeroes, an int32 overflow, more than ten
// bytes are errors, carried in the reply's err, as Go kit's addtransport
// encodes them). With -mode client it calls -method (Sum or Concat) with
// -a and -b through Go kit's grpc client and prints the reply as JSON, or
// {"code":…,"message":…} for a gRPC error. The server also serves
// /pb.Stream/Count, server streaming with Go's grpc alone: A replies
// SumReply{V: i} (i from 0) padded with B bytes in Err; a negative B ends
// the stream with ABORTED after them. With -mode stream it calls the
// server-streaming -method (Go kit has no streaming; this is Go's grpc
// alone) with SumRequest{A: -a, B: -b} and prints the V of every SumReply
// it reads, the final status and the header and trailer metadata.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	grpctransport "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"kitgrpc/pb"
)

type sumRequest struct{ A, B int64 }
type sumResponse struct {
	V   int64
	Err error
}
type concatRequest struct{ A, B string }
type concatResponse struct {
	V   string
	Err error
}

func sum(_ context.Context, request interface{}) (interface{}, error) {
	r := request.(sumRequest)
	if r.A == 0 && r.B == 0 {
		return sumResponse{Err: errors.New("can't sum two zeroes")}, nil
	}
	if (r.B > 0 && r.A > (1<<31-1)-r.B) || (r.B < 0 && r.A < (-1<<31)-r.B) {
		return sumResponse{Err: errors.New("integer overflow")}, nil
	}
	return sumResponse{V: r.A + r.B}, nil
}

func concat(_ context.Context, request interface{}) (interface{}, error) {
	r := request.(concatRequest)
	if len(r.A)+len(r.B) > 10 {
		return concatResponse{Err: errors.New("result exceeds maximum size")}, nil
	}
	return concatResponse{V: r.A + r.B}, nil
}

func err2str(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func str2err(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// grpcServer is pb.AddServer over Go kit's grpctransport.Handler.
type grpcServer struct {
	sum, concat grpctransport.Handler
}

func (s *grpcServer) Sum(ctx context.Context, req *pb.SumRequest) (*pb.SumReply, error) {
	_, rep, err := s.sum.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return rep.(*pb.SumReply), nil
}

func (s *grpcServer) Concat(ctx context.Context, req *pb.ConcatRequest) (*pb.ConcatReply, error) {
	_, rep, err := s.concat.ServeGRPC(ctx, req)
	if err != nil {
		return nil, err
	}
	return rep.(*pb.ConcatReply), nil
}

func main() {
	mode := flag.String("mode", "server", "server or client")
	listen := flag.String("listen", "127.0.0.1:8082", "where the server listens")
	addr := flag.String("addr", "127.0.0.1:8082", "the server the client calls")
	method := flag.String("method", "Sum", "Sum or Concat")
	a := flag.String("a", "1", "first argument")
	b := flag.String("b", "2", "second argument")
	flag.Parse()

	if *mode == "client" {
		client(*addr, *method, *a, *b)
		return
	}
	if *mode == "stream" {
		stream(*addr, *method, *a, *b)
		return
	}
	s := &grpcServer{
		sum: grpctransport.NewServer(endpoint.Endpoint(sum),
			func(_ context.Context, r interface{}) (interface{}, error) {
				req := r.(*pb.SumRequest)
				return sumRequest{A: req.A, B: req.B}, nil
			},
			func(_ context.Context, r interface{}) (interface{}, error) {
				resp := r.(sumResponse)
				return &pb.SumReply{V: resp.V, Err: err2str(resp.Err)}, nil
			}),
		concat: grpctransport.NewServer(endpoint.Endpoint(concat),
			func(_ context.Context, r interface{}) (interface{}, error) {
				req := r.(*pb.ConcatRequest)
				return concatRequest{A: req.A, B: req.B}, nil
			},
			func(_ context.Context, r interface{}) (interface{}, error) {
				resp := r.(concatResponse)
				return &pb.ConcatReply{V: resp.V, Err: err2str(resp.Err)}, nil
			}),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		panic(err)
	}
	g := grpc.NewServer()
	pb.RegisterAddServer(g, s)
	g.RegisterService(&streamDesc, struct{}{})
	panic(g.Serve(ln))
}

func client(addr, method, a, b string) {
	conn, err := grpc.Dial(addr, grpc.WithInsecure())
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out interface{}
	if method == "Sum" {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		e := grpctransport.NewClient(conn, "pb.Add", "Sum",
			func(_ context.Context, r interface{}) (interface{}, error) {
				req := r.(sumRequest)
				return &pb.SumRequest{A: req.A, B: req.B}, nil
			},
			func(_ context.Context, r interface{}) (interface{}, error) {
				reply := r.(*pb.SumReply)
				return sumResponse{V: reply.V, Err: str2err(reply.Err)}, nil
			},
			pb.SumReply{}).Endpoint()
		resp, err := e(ctx, sumRequest{A: x, B: y})
		if err != nil {
			fail(err)
		}
		r := resp.(sumResponse)
		out = map[string]interface{}{"v": r.V, "err": err2str(r.Err)}
	} else {
		e := grpctransport.NewClient(conn, "pb.Add", method,
			func(_ context.Context, r interface{}) (interface{}, error) {
				req := r.(concatRequest)
				return &pb.ConcatRequest{A: req.A, B: req.B}, nil
			},
			func(_ context.Context, r interface{}) (interface{}, error) {
				reply := r.(*pb.ConcatReply)
				return concatResponse{V: reply.V, Err: str2err(reply.Err)}, nil
			},
			pb.ConcatReply{}).Endpoint()
		resp, err := e(ctx, concatRequest{A: a, B: b})
		if err != nil {
			fail(err)
		}
		r := resp.(concatResponse)
		out = map[string]interface{}{"v": r.V, "err": err2str(r.Err)}
	}
	j, _ := json.Marshal(out)
	fmt.Println(string(j))
}

// fail prints a gRPC error as {"code":…,"message":…}.
func fail(err error) {
	s, _ := status.FromError(err)
	j, _ := json.Marshal(map[string]interface{}{"code": int(s.Code()), "message": s.Message()})
	fmt.Println(string(j))
	os.Exit(0)
}

// stream reads a server stream to its end with Go's grpc.
func stream(addr, method, a, b string) {
	conn, err := grpc.Dial(addr, grpc.WithInsecure())
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		fail(err)
	}
	if err := cs.SendMsg(&pb.SumRequest{A: x, B: y}); err != nil {
		fail(err)
	}
	if err := cs.CloseSend(); err != nil {
		fail(err)
	}
	values := []int64{}
	var last error
	for {
		var r pb.SumReply
		if err := cs.RecvMsg(&r); err != nil {
			last = err
			break
		}
		values = append(values, r.V)
	}
	header, _ := cs.Header()
	s, _ := status.FromError(last)
	if last == io.EOF {
		s = status.New(0, "")
	}
	out := map[string]interface{}{
		"values":  values,
		"code":    int(s.Code()),
		"message": s.Message(),
		"header":  flat(header),
		"trailer": flat(cs.Trailer()),
	}
	j, _ := json.Marshal(out)
	fmt.Println(string(j))
}

func flat(md metadata.MD) map[string]string {
	out := map[string]string{}
	for k, v := range md {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// streamDesc is /pb.Stream/Count, declared by hand: Go kit has no
// streaming, and protoc-gen-go is not needed for one method.
var streamDesc = grpc.ServiceDesc{
	ServiceName: "pb.Stream",
	HandlerType: (*interface{})(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Count",
		ServerStreams: true,
		Handler: func(_ interface{}, stream grpc.ServerStream) error {
			var req pb.SumRequest
			if err := stream.RecvMsg(&req); err != nil {
				return err
			}
			if err := stream.SetHeader(metadata.Pairs("x-stream", "go")); err != nil {
				return err
			}
			pad := ""
			if req.B > 0 {
				pad = strings.Repeat("x", int(req.B))
			}
			for i := int64(0); i < req.A; i++ {
				if err := stream.SendMsg(&pb.SumReply{V: i, Err: pad}); err != nil {
					return err
				}
			}
			if req.B < 0 {
				return status.Error(codes.Aborted, "stopped on purpose")
			}
			stream.SetTrailer(metadata.Pairs("x-done", "go"))
			return nil
		},
	}},
}
