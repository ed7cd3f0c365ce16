// crius-stream-client: a test client for the CRI streaming server (exec,
// attach, port-forward) built only from the libraries kubelet and kubectl
// use on the wire: github.com/moby/spdystream (client-go's SPDY/3.1) and
// github.com/gorilla/websocket. It speaks Kubernetes' remotecommand and
// portforward protocols the way client-go's tools/remotecommand and
// tools/portforward do, so crius's server is tested against an
// implementation we did not write. Built offline from Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build
//
// Usage (URL is what the Exec/Attach/PortForward RPC answered):
//
//	crius-stream-client -url URL [-transport spdy|ws] -mode exec|attach
//	    [-stdin] [-tty] [-stdout=false] [-stderr=false]
//	    [-stdout-file F] [-stderr-file F] [-resize WxH[,WxH...]] [-resize-mark S]
//	crius-stream-client -url URL [-transport spdy|ws] -mode portforward -port P
//	    [-listen ADDR [-connections N]] [-send-bytes N] [-stats]
//
// The remote stdout/stderr go to our stdout/stderr (or the files); our own
// diagnostics always go to our stderr prefixed "crius-stream-client:". The
// exit status is the remote command's exit code when the server reported
// one; otherwise 0 for success, exitHTTP when the upgrade was answered with
// anything but 101 (the status code is printed as "http-status: N"), and
// exitProtocol for any other failure.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	exitProtocol = 125
	exitHTTP     = 126
)

type options struct {
	url, transport, mode   string
	stdin, tty             bool
	stdout, stderr         bool
	stdoutFile, stderrFile string
	resize                 []termSize
	resizeMark             string
	protocols              []string
	port                   int
	listen                 string
	connections            int
	sendBytes              int64
	stats                  bool
	timeout                time.Duration
	verbose                bool
	stdoutW, stderrW       io.Writer
}

// termSize is the JSON client-go writes on the resize stream, one object
// per line: {"Width":w,"Height":h}.
type termSize struct {
	Width  uint16 `json:"Width"`
	Height uint16 `json:"Height"`
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "crius-stream-client: "+format+"\n", args...)
}

func parseSizes(s string) ([]termSize, error) {
	var out []termSize
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		wh := strings.SplitN(part, "x", 2)
		if len(wh) != 2 {
			return nil, fmt.Errorf("size %q is not WxH", part)
		}
		w, err1 := strconv.ParseUint(wh[0], 10, 16)
		h, err2 := strconv.ParseUint(wh[1], 10, 16)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("size %q is not WxH", part)
		}
		out = append(out, termSize{Width: uint16(w), Height: uint16(h)})
	}
	return out, nil
}

func parseFlags() (*options, error) {
	o := &options{}
	var sizes, protocols string
	flag.StringVar(&o.url, "url", "", "streaming URL the RPC returned")
	flag.StringVar(&o.transport, "transport", "spdy", "spdy or ws")
	flag.StringVar(&o.mode, "mode", "exec", "exec, attach or portforward")
	flag.BoolVar(&o.stdin, "stdin", false, "send our stdin (must match the RPC's stdin)")
	flag.BoolVar(&o.tty, "tty", false, "the session has a terminal (must match the RPC's tty)")
	flag.BoolVar(&o.stdout, "stdout", true, "open the stdout stream")
	flag.BoolVar(&o.stderr, "stderr", true, "open the stderr stream (never with -tty)")
	flag.StringVar(&o.stdoutFile, "stdout-file", "", "write the remote stdout here")
	flag.StringVar(&o.stderrFile, "stderr-file", "", "write the remote stderr here")
	flag.StringVar(&sizes, "resize", "", "terminal sizes WxH,...: the first at once, each next one when -resize-mark appears in stdout")
	flag.StringVar(&o.resizeMark, "resize-mark", "", "stdout text that triggers the next -resize size")
	flag.StringVar(&protocols, "protocols", "", "offered protocols, comma-separated (default: client-go's list for the transport and mode)")
	flag.IntVar(&o.port, "port", 0, "portforward: the pod's port")
	flag.StringVar(&o.listen, "listen", "", "portforward: listen here and forward each connection (else relay stdin/stdout once)")
	flag.IntVar(&o.connections, "connections", 0, "portforward -listen: stop after this many connections (0: run until killed)")
	flag.Int64Var(&o.sendBytes, "send-bytes", 0, "portforward relay: send this many zero bytes instead of stdin")
	flag.BoolVar(&o.stats, "stats", false, "portforward relay: print {\"sent\":N,\"received\":N,\"seconds\":S} to stderr")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	flag.BoolVar(&o.verbose, "v", false, "log the negotiated protocol and stream events")
	flag.Parse()
	if o.url == "" {
		return nil, fmt.Errorf("-url is required")
	}
	if o.transport != "spdy" && o.transport != "ws" {
		return nil, fmt.Errorf("-transport is spdy or ws")
	}
	var err error
	if o.resize, err = parseSizes(sizes); err != nil {
		return nil, err
	}
	if protocols != "" {
		o.protocols = strings.Split(protocols, ",")
	}
	if o.tty {
		o.stderr = false
	}
	switch o.mode {
	case "exec", "attach":
	case "portforward":
		if o.port <= 0 || o.port > 65535 {
			return nil, fmt.Errorf("-mode portforward needs -port")
		}
	default:
		return nil, fmt.Errorf("-mode is exec, attach or portforward")
	}
	return o, nil
}

func openOutput(path string, fallback io.Writer) (io.Writer, func(), error) {
	if path == "" {
		return fallback, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// httpStatusError is an upgrade answered with something other than 101.
type httpStatusError struct {
	code int
	body string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("upgrade refused: HTTP %d: %s", e.code, strings.TrimSpace(e.body))
}

// exitCodeError is a remote command that ended with a non-zero exit code.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.code)
}

func run(o *options) error {
	switch {
	case o.mode == "portforward" && o.transport == "spdy":
		return portForwardSPDY(o)
	case o.mode == "portforward":
		return portForwardWS(o)
	case o.transport == "spdy":
		return remoteCommandSPDY(o)
	default:
		return remoteCommandWS(o)
	}
}

func main() {
	o, err := parseFlags()
	if err != nil {
		logf("%v", err)
		os.Exit(2)
	}
	var closeOut, closeErr func()
	if o.stdoutW, closeOut, err = openOutput(o.stdoutFile, os.Stdout); err != nil {
		logf("%v", err)
		os.Exit(2)
	}
	if o.stderrW, closeErr, err = openOutput(o.stderrFile, os.Stderr); err != nil {
		logf("%v", err)
		os.Exit(2)
	}
	done := make(chan error, 1)
	go func() { done <- run(o) }()
	select {
	case err = <-done:
	case <-time.After(o.timeout):
		err = fmt.Errorf("timed out after %v", o.timeout)
	}
	closeOut()
	closeErr()
	if err == nil {
		os.Exit(0)
	}
	switch e := err.(type) {
	case *exitCodeError:
		os.Exit(e.code)
	case *httpStatusError:
		logf("%v", e)
		fmt.Fprintf(os.Stderr, "http-status: %d\n", e.code)
		os.Exit(exitHTTP)
	}
	logf("error: %v", err)
	os.Exit(exitProtocol)
}
