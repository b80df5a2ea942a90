package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	webhook "github.com/hooklet/webhook"
)

// table writes aligned columns.
type table struct {
	tw *tabwriter.Writer
}

// newTable starts a table with an optional header row.
func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

// row writes one row; tabs and newlines in cells become spaces.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		c = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, c)
		if c == "" {
			c = "-"
		}
		cells[i] = c
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// page is the JSON form of a listing, as the admin API answers it.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

func listing[T any](items []T, next string) page[T] {
	return page[T]{Items: nonNil(items), Next: next}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func eventOrNil(ev webhook.Event) *webhook.Event {
	if ev.ID == "" {
		return nil
	}
	return &ev
}

// stamp formats a time for a table, in UTC.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// last describes the latest attempt of a delivery.
func last(dl webhook.Delivery) string {
	switch {
	case dl.LastStatusCode != 0:
		return fmt.Sprint(dl.LastStatusCode)
	case dl.LastError != "":
		return dl.LastError
	}
	return ""
}

// snippet returns the start of a response body as one line of text.
func snippet(b []byte) string {
	const max = 60
	if !utf8.Valid(b) {
		return fmt.Sprintf("(%d bytes, not text)", len(b))
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return s
}
