package main

// portforward over SPDY (portforward.k8s.io: per connection an error and a
// data stream with streamType, port and requestID headers, as client-go's
// tools/portforward opens them) and over WebSocket (kubelet's channels:
// data 0 and error 1 for the one port, each starting with the port as two
// little-endian bytes).

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const portForwardProtocol = "portforward.k8s.io"

var wsPortForwardProtocols = []string{"v4.channel.k8s.io"}

// zeroReader yields n zero bytes.
type zeroReader struct{ left int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.left {
		p = p[:z.left]
	}
	for i := range p {
		p[i] = 0
	}
	z.left -= int64(len(p))
	return len(p), nil
}

// countingWriter counts what passes through.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	atomic.AddInt64(&c.n, int64(n))
	return n, err
}

// relayIO is the local end of one relayed connection when not listening:
// our stdin (or generated zeros) and our stdout.
func relayIO(o *options) (io.Reader, *countingWriter) {
	var in io.Reader = os.Stdin
	if o.sendBytes > 0 {
		in = &zeroReader{left: o.sendBytes}
	}
	return in, &countingWriter{w: o.stdoutW}
}

func printStats(o *options, sent, received int64, start time.Time) {
	if o.stats {
		fmt.Fprintf(os.Stderr, "{\"sent\":%d,\"received\":%d,\"seconds\":%.6f}\n", sent, received,
			time.Since(start).Seconds())
	}
}

type spdyForwarder struct {
	sc        *spdyConn
	port      int
	requestID int64
}

// forward relays one local connection (in/out) through a fresh stream pair
// and returns the bytes sent and any error the server reported.
func (f *spdyForwarder) forward(in io.Reader, out io.Writer) (int64, error) {
	id := atomic.AddInt64(&f.requestID, 1) - 1
	h := http.Header{}
	h.Set("streamType", "error")
	h.Set("port", strconv.Itoa(f.port))
	h.Set("requestID", strconv.FormatInt(id, 10))
	errStream, err := f.sc.createStream(h)
	if err != nil {
		return 0, err
	}
	errStream.Close() // nothing to say on it
	defer errStream.Reset()
	errCh := make(chan error, 1)
	go func() {
		msg, err := io.ReadAll(errStream)
		switch {
		case err != nil:
			errCh <- fmt.Errorf("reading the error stream of port %d: %v", f.port, err)
		case len(msg) > 0:
			errCh <- fmt.Errorf("forwarding port %d: %s", f.port, msg)
		default:
			errCh <- nil
		}
	}()
	h.Set("streamType", "data")
	data, err := f.sc.createStream(h)
	if err != nil {
		return 0, err
	}
	defer data.Reset()
	remoteDone := make(chan struct{})
	go func() {
		io.Copy(out, data)
		close(remoteDone)
	}()
	var sent int64
	localDone := make(chan struct{})
	go func() {
		defer close(localDone)
		n, _ := io.Copy(data, in)
		atomic.StoreInt64(&sent, n)
		data.Close() // half-close: the pod's side sees EOF
	}()
	<-remoteDone
	select {
	case <-localDone:
	case <-time.After(100 * time.Millisecond): // the local side may still block on stdin
	}
	return atomic.LoadInt64(&sent), <-errCh
}

func portForwardSPDY(o *options) error {
	protocols := o.protocols
	if protocols == nil {
		protocols = []string{portForwardProtocol}
	}
	sc, protocol, err := dialSPDY(o.url, protocols)
	if err != nil {
		return err
	}
	defer sc.conn.Close()
	if o.verbose {
		logf("negotiated %q", protocol)
	}
	f := &spdyForwarder{sc: sc, port: o.port}
	if o.listen != "" {
		return listenAndForward(o, func(c net.Conn) error {
			_, err := f.forward(c, c)
			return err
		})
	}
	in, out := relayIO(o)
	start := time.Now()
	sent, err := f.forward(in, out)
	printStats(o, sent, atomic.LoadInt64(&out.n), start)
	return err
}

// listenAndForward prints "listening on ADDR" on stdout, then forwards each
// accepted connection, until o.connections have finished (or forever).
func listenAndForward(o *options, handle func(net.Conn) error) error {
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Fprintf(o.stdoutW, "listening on %s\n", l.Addr())
	if f, ok := o.stdoutW.(*os.File); ok {
		f.Sync()
	}
	var wg sync.WaitGroup
	for i := 0; o.connections == 0 || i < o.connections; i++ {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			if err := handle(c); err != nil {
				logf("connection from %s: %v", c.RemoteAddr(), err)
			}
		}()
	}
	wg.Wait()
	return nil
}

// portForwardWS relays one connection: the port has its data channel 0 and
// error channel 1; the server opens each with the port number, checked here.
func portForwardWS(o *options) error {
	protocols := o.protocols
	if protocols == nil {
		protocols = wsPortForwardProtocols
	}
	s, err := dialWS(o.url, protocols)
	if err != nil {
		return err
	}
	defer s.conn.Close()
	if o.verbose {
		logf("negotiated %q", s.protocol)
	}
	in, out := relayIO(o)
	start := time.Now()
	var sent int64
	go func() {
		buf := make([]byte, 32*1024)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if s.send(0, buf[:n]) != nil {
					return
				}
				atomic.AddInt64(&sent, int64(n))
			}
			if err != nil {
				return
			}
		}
	}()
	var errMsg []byte
	seenPort := map[byte]bool{}
	for {
		ch, data, err := s.receive()
		if err != nil {
			if !closeEnded(err) {
				return fmt.Errorf("reading: %v", err)
			}
			break
		}
		if ch > 1 {
			return fmt.Errorf("message on channel %d; one port has channels 0 and 1", ch)
		}
		if !seenPort[ch] {
			if len(data) < 2 {
				return fmt.Errorf("channel %d opened with %d bytes, not a 2-byte port", ch, len(data))
			}
			if p := int(binary.LittleEndian.Uint16(data)); p != o.port {
				return fmt.Errorf("channel %d is for port %d, not %d", ch, p, o.port)
			}
			seenPort[ch] = true
			data = data[2:]
		}
		if ch == 0 {
			out.Write(data)
		} else {
			errMsg = append(errMsg, data...)
		}
	}
	printStats(o, atomic.LoadInt64(&sent), atomic.LoadInt64(&out.n), start)
	if len(errMsg) > 0 {
		return fmt.Errorf("forwarding port %d: %s", o.port, errMsg)
	}
	return nil
}
