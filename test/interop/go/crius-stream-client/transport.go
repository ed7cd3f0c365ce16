package main

// The two upgrades: SPDY/3.1 as client-go's spdy.RoundTripper performs it
// (POST, Connection: Upgrade, Upgrade: SPDY/3.1, one X-Stream-Protocol-Version
// header per offered protocol, 101 with the chosen one), and WebSocket with
// the protocols as Sec-WebSocket-Protocol.

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/moby/spdystream"
)

const (
	// client-go waits this long for the server's SYN_REPLY to each stream.
	streamCreationTimeout = 30 * time.Second
	// client-go pings every 5 s so idle sessions stay up behind proxies.
	pingPeriod = 5 * time.Second
)

// bufferedConn reads what the HTTP response parser already buffered
// (frames the server sent right after its 101) before the socket.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type spdyConn struct {
	conn *spdystream.Connection
}

func dial(u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	if u.Scheme == "https" {
		// Tests reach the server by IP with a self-signed certificate.
		return tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true})
	}
	return net.DialTimeout("tcp", host, 30*time.Second)
}

func dialSPDY(rawurl string, protocols []string) (*spdyConn, string, error) {
	u, err := url.Parse(rawurl)
	if err != nil {
		return nil, "", err
	}
	conn, err := dial(u)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequest(http.MethodPost, rawurl, nil)
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	for _, p := range protocols {
		req.Header.Add("X-Stream-Protocol-Version", p)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("writing the upgrade request: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("reading the upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		conn.Close()
		return nil, "", &httpStatusError{code: resp.StatusCode, body: string(body)}
	}
	if !strings.EqualFold(resp.Header.Get("Connection"), "Upgrade") ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "SPDY/3.1") {
		conn.Close()
		return nil, "", fmt.Errorf("101 without Connection: Upgrade / Upgrade: SPDY/3.1 (got %q / %q)",
			resp.Header.Get("Connection"), resp.Header.Get("Upgrade"))
	}
	protocol := resp.Header.Get("X-Stream-Protocol-Version")
	if protocol != "" && !contains(protocols, protocol) {
		conn.Close()
		return nil, "", fmt.Errorf("server chose %q, which was not offered (%v)", protocol, protocols)
	}
	sc, err := spdystream.NewConnection(&bufferedConn{Conn: conn, r: br}, false)
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	// The server never opens streams in these protocols.
	go sc.Serve(func(s *spdystream.Stream) { s.Reset() })
	go func() {
		t := time.NewTicker(pingPeriod)
		defer t.Stop()
		for {
			select {
			case <-sc.CloseChan():
				return
			case <-t.C:
				if _, err := sc.Ping(); err != nil {
					return
				}
			}
		}
	}()
	return &spdyConn{conn: sc}, protocol, nil
}

// createStream opens a stream and waits for the server's SYN_REPLY.
func (c *spdyConn) createStream(h http.Header) (*spdystream.Stream, error) {
	s, err := c.conn.CreateStream(h.Clone(), nil, false)
	if err != nil {
		return nil, fmt.Errorf("creating stream %v: %v", h, err)
	}
	if err := s.WaitTimeout(streamCreationTimeout); err != nil {
		return nil, fmt.Errorf("no reply to stream %v: %v", h, err)
	}
	return s, nil
}

func dialWS(rawurl string, protocols []string) (*wsSession, error) {
	u, err := url.Parse(rawurl)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	d := websocket.Dialer{
		Subprotocols:     protocols,
		HandshakeTimeout: 30 * time.Second,
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true},
		ReadBufferSize:   64 * 1024,
		WriteBufferSize:  64 * 1024,
	}
	conn, resp, err := d.Dial(u.String(), nil)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return nil, &httpStatusError{code: resp.StatusCode, body: string(body)}
		}
		return nil, fmt.Errorf("websocket dial: %v", err)
	}
	p := conn.Subprotocol()
	if p != "" && !contains(protocols, p) {
		conn.Close()
		return nil, fmt.Errorf("server chose %q, which was not offered (%v)", p, protocols)
	}
	return &wsSession{conn: conn, protocol: p, base64: strings.Contains(p, "base64")}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
