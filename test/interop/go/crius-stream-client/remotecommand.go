package main

// remotecommand (exec and attach) over SPDY/3.1 and WebSocket, on the
// client side, as client-go's tools/remotecommand speaks it.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// client-go's SPDY executor offers these, preferred first.
var spdyRemoteCommandProtocols = []string{
	"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io",
}

// client-go's WebSocket executor offers v5 then v4.
var wsRemoteCommandProtocols = []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}

// The WebSocket channel numbers of remotecommand.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanResize = 4
	chanClose  = 255 // v5: the payload names a channel the sender is done with
)

// status is the part of a metav1.Status the v4+ error stream carries.
type status struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Details *struct {
		Causes []struct {
			Type    string `json:"reason"`
			Message string `json:"message"`
		} `json:"causes"`
	} `json:"details"`
}

// hasStatusJSON: v4 and later carry a Status JSON on the error stream; the
// older versions carry plain text.
func hasStatusJSON(protocol string) bool {
	return strings.HasPrefix(protocol, "v4.") || strings.HasPrefix(protocol, "v5.")
}

// decodeErrorStream turns what the server wrote on the error stream into
// the session's result: nil, an exitCodeError, or a plain error.
func decodeErrorStream(protocol string, msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	if !hasStatusJSON(protocol) {
		return fmt.Errorf("error executing remote command: %s", msg)
	}
	var st status
	if err := json.Unmarshal(msg, &st); err != nil {
		return fmt.Errorf("error stream protocol error: %v in %q", err, msg)
	}
	switch st.Status {
	case "Success":
		return nil
	case "Failure":
		if st.Reason != "NonZeroExitCode" {
			return fmt.Errorf("remote failure: %s (reason %q)", st.Message, st.Reason)
		}
		if st.Details == nil {
			return fmt.Errorf("error stream protocol error: details must be set in %q", msg)
		}
		for _, c := range st.Details.Causes {
			if c.Type != "ExitCode" {
				continue
			}
			code, err := strconv.ParseUint(c.Message, 10, 8)
			if err != nil {
				return fmt.Errorf("error stream protocol error: bad exit code %q", c.Message)
			}
			return &exitCodeError{code: int(code)}
		}
		return fmt.Errorf("error stream protocol error: no ExitCode cause in %q", msg)
	}
	return fmt.Errorf("error stream protocol error: unknown status %q in %q", st.Status, msg)
}

// markWatcher passes output through and calls onMark once per occurrence
// of mark in everything written so far (so the next terminal size is sent
// only once the remote side has shown it saw the previous one).
type markWatcher struct {
	w      io.Writer
	mark   string
	mu     sync.Mutex
	seen   strings.Builder
	count  int
	onMark func()
}

func (m *markWatcher) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if m.mark == "" {
		return n, err
	}
	m.mu.Lock()
	m.seen.Write(p)
	now := strings.Count(m.seen.String(), m.mark)
	fire := now - m.count
	m.count = now
	m.mu.Unlock()
	for ; fire > 0; fire-- {
		m.onMark()
	}
	return n, err
}

// resizer sends o.resize one size at a time through send: the first at
// once, the next each time the mark shows up in stdout.
type resizer struct {
	mu    sync.Mutex
	sizes []termSize
	send  func(termSize)
}

func (r *resizer) next() {
	r.mu.Lock()
	if len(r.sizes) == 0 {
		r.mu.Unlock()
		return
	}
	s := r.sizes[0]
	r.sizes = r.sizes[1:]
	r.mu.Unlock()
	r.send(s)
}

func resizeJSON(s termSize) []byte {
	b, _ := json.Marshal(s)
	return append(b, '\n')
}

func remoteCommandSPDY(o *options) error {
	protocols := o.protocols
	if protocols == nil {
		protocols = spdyRemoteCommandProtocols
	}
	sc, protocol, err := dialSPDY(o.url, protocols)
	if err != nil {
		return err
	}
	defer sc.conn.Close()
	if o.verbose {
		logf("negotiated %q", protocol)
	}
	// The streams in client-go's order: error, stdin, stdout, stderr, resize.
	h := http.Header{}
	h.Set("streamType", "error")
	errStream, err := sc.createStream(h)
	if err != nil {
		return err
	}
	errCh := make(chan error, 1)
	go func() {
		msg, err := io.ReadAll(errStream)
		if err != nil {
			errCh <- fmt.Errorf("reading the error stream: %v", err)
			return
		}
		errCh <- decodeErrorStream(protocol, msg)
	}()
	var stdinS, stdoutS, stderrS, resizeS io.ReadWriteCloser
	if o.stdin {
		h.Set("streamType", "stdin")
		if stdinS, err = sc.createStream(h); err != nil {
			return err
		}
	}
	if o.stdout {
		h.Set("streamType", "stdout")
		if stdoutS, err = sc.createStream(h); err != nil {
			return err
		}
	}
	if o.stderr && !o.tty {
		h.Set("streamType", "stderr")
		if stderrS, err = sc.createStream(h); err != nil {
			return err
		}
	}
	if o.tty && protocol != "v2.channel.k8s.io" && protocol != "channel.k8s.io" && protocol != "" {
		h.Set("streamType", "resize")
		if resizeS, err = sc.createStream(h); err != nil {
			return err
		}
	}
	if stdinS != nil {
		go func() {
			io.Copy(stdinS, os.Stdin)
			stdinS.Close() // half-close: the remote stdin sees EOF
		}()
		go io.Copy(io.Discard, stdinS)
	}
	out := o.stdoutW
	if resizeS != nil {
		r := &resizer{sizes: append([]termSize(nil), o.resize...), send: func(s termSize) {
			resizeS.Write(resizeJSON(s))
		}}
		out = &markWatcher{w: o.stdoutW, mark: o.resizeMark, onMark: r.next}
		r.next()
	}
	var wg sync.WaitGroup
	copyOut := func(dst io.Writer, src io.Reader) {
		defer wg.Done()
		io.Copy(dst, src)
		io.Copy(io.Discard, src) // keep the connection's frame loop moving
	}
	if stdoutS != nil {
		wg.Add(1)
		go copyOut(out, stdoutS)
	}
	if stderrS != nil {
		wg.Add(1)
		go copyOut(o.stderrW, stderrS)
	}
	wg.Wait()
	return <-errCh
}

// wsSession is one remotecommand or portforward WebSocket connection: one
// channel byte in front of every message (binary), or the channel as an
// ASCII digit in front of base64 text (base64.channel.k8s.io).
type wsSession struct {
	conn     *websocket.Conn
	protocol string
	base64   bool
	mu       sync.Mutex
}

func (s *wsSession) send(ch byte, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base64 {
		msg := string(rune('0'+ch)) + base64.StdEncoding.EncodeToString(data)
		return s.conn.WriteMessage(websocket.TextMessage, []byte(msg))
	}
	return s.conn.WriteMessage(websocket.BinaryMessage, append([]byte{ch}, data...))
}

// receive returns the next message's channel and payload.
func (s *wsSession) receive() (byte, []byte, error) {
	for {
		_, msg, err := s.conn.ReadMessage()
		if err != nil {
			return 0, nil, err
		}
		if len(msg) == 0 {
			continue
		}
		if !s.base64 {
			return msg[0], msg[1:], nil
		}
		if msg[0] < '0' || msg[0] > '9' {
			return 0, nil, fmt.Errorf("base64 message with channel %q", msg[0])
		}
		data, err := base64.StdEncoding.DecodeString(string(msg[1:]))
		if err != nil {
			return 0, nil, fmt.Errorf("base64 message on channel %c: %v", msg[0], err)
		}
		return msg[0] - '0', data, nil
	}
}

// closeEnded: the server closing the connection (normally or by just
// dropping it after the last message) ends the session without error.
func closeEnded(err error) bool {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway,
		websocket.CloseNoStatusReceived) {
		return true
	}
	return err == io.EOF || err == io.ErrUnexpectedEOF || strings.Contains(err.Error(), "EOF")
}

func remoteCommandWS(o *options) error {
	protocols := o.protocols
	if protocols == nil {
		protocols = wsRemoteCommandProtocols
	}
	s, err := dialWS(o.url, protocols)
	if err != nil {
		return err
	}
	defer s.conn.Close()
	if o.verbose {
		logf("negotiated %q", s.protocol)
	}
	out := o.stdoutW
	if o.tty {
		r := &resizer{sizes: append([]termSize(nil), o.resize...), send: func(ts termSize) {
			s.send(chanResize, resizeJSON(ts))
		}}
		out = &markWatcher{w: o.stdoutW, mark: o.resizeMark, onMark: r.next}
		r.next()
	}
	if o.stdin {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := os.Stdin.Read(buf)
				if n > 0 && s.send(chanStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					break
				}
			}
			// Only v5 can tell the server stdin ended.
			if strings.HasPrefix(s.protocol, "v5.") {
				s.send(chanClose, []byte{chanStdin})
			}
		}()
	}
	var errMsg []byte
	for {
		ch, data, err := s.receive()
		if err != nil {
			if o.verbose {
				logf("connection ended: %v", err)
			}
			if !closeEnded(err) {
				return fmt.Errorf("reading: %v", err)
			}
			break
		}
		if o.verbose {
			logf("channel %d: %d bytes", ch, len(data))
		}
		switch ch {
		case chanStdout:
			out.Write(data)
		case chanStderr:
			o.stderrW.Write(data)
		case chanError:
			errMsg = append(errMsg, data...)
		case chanClose:
		default:
			if o.verbose {
				logf("%d bytes on unexpected channel %d", len(data), ch)
			}
		}
	}
	s.conn.WriteMessage(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	return decodeErrorStream(s.protocol, errMsg)
}
