package main

import (
	"io"
	"net/http"
	"sync"
)

// syncBuffer is an output that hands each write to a channel.
type syncBuffer struct {
	mu    sync.Mutex
	lines chan string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.lines <- string(p):
	default:
	}
	return len(p), nil
}

// httpGet returns the body of a GET.
func httpGet(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}
