package envelope

import "strings"

// requestName writes the request (and operation) name: "{method} {route}"
// (the route gets a leading "/", and is ignored when it holds the
// "{controller}" placeholder), else "{method} {path}", else the span name.
func (a *spanAttrs) requestName(t *text, spanName string) {
	t.reset()
	method := a.first(keyHTTPMethod, keyHTTPMethodOld)
	if method != "" {
		if route := a.str(keyHTTPRoute); route != "" && !strings.Contains(route, "{controller}") {
			t.add(method)
			t.add(" ")
			if route[0] != '/' {
				t.add("/")
			}
			t.add(route)
			return
		}
		if path := a.path(); path != "" {
			t.add(method)
			t.add(" ")
			t.add(path)
			return
		}
	}
	t.add(spanName)
}

// dependencyName writes an HTTP dependency's name; the rules are those of
// requestName.
func (a *spanAttrs) dependencyName(t *text, spanName string) { a.requestName(t, spanName) }

// path returns the URL path: url.path, else the path of url.full or
// http.url, else the path of http.target.
func (a *spanAttrs) path() string {
	if p := a.str(keyURLPath); p != "" {
		return p
	}
	if u := a.first(keyURLFull, keyHTTPURL); u != "" {
		if _, p := splitURL(u); p != "" {
			return p
		}
	}
	if tg := a.str(keyHTTPTarget); tg != "" {
		return cutQuery(tg)
	}
	return ""
}

// requestURL writes a request's URL: url.full or http.url when absolute,
// else one rebuilt as scheme://host[:port]path[?query]; the port is left
// out when it is the scheme's default.
func (a *spanAttrs) requestURL(t *text) {
	full := a.first(keyURLFull, keyHTTPURL)
	if isAbsoluteURL(full) {
		addURL(t, full)
		return
	}
	scheme := a.first(keyURLScheme, keyHTTPScheme)
	var host string
	var port part
	switch {
	case a.str(keyServerAddress) != "":
		host, port = a.str(keyServerAddress), a.firstPart(keyServerPort, keyNetHostPort)
	case a.str(keyHTTPHost) != "":
		host = a.str(keyHTTPHost)
	default:
		host, port = a.first(keyHTTPServerName, keyNetHostName), a.firstPart(keyNetHostPort, keyServerPort)
	}
	a.rebuildURL(t, scheme, host, port, full)
}

// dependencyURL writes an HTTP dependency's data: url.full or http.url,
// else a URL rebuilt from the server address (or the old host and peer
// keys) as in requestURL.
func (a *spanAttrs) dependencyURL(t *text) {
	full := a.first(keyURLFull, keyHTTPURL)
	if full != "" {
		addURL(t, full)
		return
	}
	scheme := a.first(keyURLScheme, keyHTTPScheme)
	var host string
	var port part
	switch {
	case a.str(keyServerAddress) != "":
		host, port = a.str(keyServerAddress), a.firstPart(keyServerPort, keyNetPeerPort)
	case a.str(keyHTTPHost) != "":
		host = a.str(keyHTTPHost)
	default:
		host, port = a.first(keyNetPeerName, keyNetPeerIP, keyNetworkPeerAddress), a.firstPart(keyNetPeerPort, keyNetworkPeerPort, keyServerPort)
	}
	a.rebuildURL(t, scheme, host, port, full)
}

// rebuildURL writes scheme://host[:port] and the path and query. Without a
// scheme or host it writes fallback (a relative URL, or nothing).
func (a *spanAttrs) rebuildURL(t *text, scheme, host string, port part, fallback string) {
	if scheme == "" || host == "" {
		t.add(fallback)
		return
	}
	t.add(scheme)
	t.add("://")
	t.add(host)
	var defaultPort int64
	lower := scheme
	if scheme != "https" && scheme != "http" { // nearly always one of them already
		lower = strings.ToLower(scheme)
	}
	switch lower {
	case "http":
		defaultPort = 80
	case "https":
		defaultPort = 443
	}
	addPort(t, port, defaultPort)
	path, query := a.str(keyURLPath), a.str(keyURLQuery)
	if path == "" && query == "" {
		path = a.str(keyHTTPTarget)
	}
	if path != "" && path[0] != '/' || path == "" && query != "" {
		t.add("/")
	}
	t.add(path)
	if query != "" {
		if query[0] != '?' {
			t.add("?")
		}
		t.add(query)
	}
}

// httpTarget writes an HTTP dependency's target: peer.service, else the
// server's host[:port], else the URL's authority, else the peer address;
// default ports (80, 443) are left out.
func (a *spanAttrs) httpTarget(t *text) {
	if s := a.str(keyPeerService); s != "" {
		t.add(s)
		return
	}
	if h := a.str(keyServerAddress); h != "" {
		t.add(h)
		addHTTPPort(t, a.firstPart(keyServerPort, keyNetPeerPort))
		return
	}
	if h := a.str(keyHTTPHost); h != "" {
		t.add(stripDefaultPort(h))
		return
	}
	if h := a.str(keyNetPeerName); h != "" {
		t.add(h)
		addHTTPPort(t, a.part(keyNetPeerPort))
		return
	}
	if auth, _ := splitURL(a.first(keyURLFull, keyHTTPURL)); auth != "" {
		t.add(stripDefaultPort(auth))
		return
	}
	if h := a.first(keyNetPeerIP, keyNetworkPeerAddress); h != "" {
		t.add(h)
		addHTTPPort(t, a.firstPart(keyNetPeerPort, keyNetworkPeerPort))
	}
}

// addHTTPPort appends ":port" unless it is 80 or 443 (or empty).
func addHTTPPort(t *text, port part) {
	if n, ok := port.intValue(); ok && n == 443 {
		return
	}
	addPort(t, port, 80)
}

// stripDefaultPort removes a trailing ":80" or ":443".
func stripDefaultPort(hostport string) string {
	if h, ok := strings.CutSuffix(hostport, ":443"); ok {
		return h
	}
	h, _ := strings.CutSuffix(hostport, ":80")
	return h
}

// addURL writes u without its user information ("user:password@"), which
// instrumentations should have redacted but may not have.
func addURL(t *text, u string) {
	if isAbsoluteURL(u) {
		i := strings.Index(u, "://") + 3
		end := strings.IndexAny(u[i:], "/?#")
		if end < 0 {
			end = len(u) - i
		}
		if at := strings.LastIndexByte(u[i:i+end], '@'); at >= 0 {
			t.add(u[:i])
			t.add(u[i+at+1:])
			return
		}
	}
	t.add(u)
}

// isAbsoluteURL reports whether u starts with "scheme://".
func isAbsoluteURL(u string) bool {
	i := strings.Index(u, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		c := u[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// splitURL returns the authority (without user information) and the path
// of an absolute URL, "/" when the path is empty. A relative URL gives no
// authority and its path.
func splitURL(u string) (authority, path string) {
	if !isAbsoluteURL(u) {
		return "", cutQuery(u)
	}
	rest := u[strings.Index(u, "://")+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority = rest[:end]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	path = cutQuery(rest[end:])
	if path == "" {
		path = "/"
	}
	return authority, path
}

// cutQuery returns s up to its query or fragment.
func cutQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}
