package sender

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestErrWithoutURL: the back-off log line names the endpoint once; the
// error beside it does not repeat the URL that net/http puts in front.
func TestErrWithoutURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // refused from now on
	resp, err := http.Post("http://"+addr+"/v2.1/track", "application/json", strings.NewReader("[]"))
	if err == nil {
		resp.Body.Close()
		t.Skip("the closed port answered")
	}
	msg := errWithoutURL(fmt.Errorf("sender: POST %s: %w", "http://"+addr, err), "http://"+addr)
	if strings.Contains(msg, "http://") || strings.Contains(msg, "/v2.1/track") || !strings.Contains(msg, "refused") {
		t.Fatalf("errWithoutURL(%q) = %q", err, msg)
	}
	if got := errWithoutURL(errTest("plain"), "http://"+addr); got != "plain" {
		t.Fatalf("plain error: %q", got)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
