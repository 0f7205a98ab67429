package main

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// writeTable writes a header and n rows as text/tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
// aligns them (each column as wide as its widest cell, counted in runes as tabwriter counts
// them, plus two spaces; the last column unpadded), and the line empty after the header
// when there are no rows. row(i, cells) appends row i's cells to cells, as many as the
// header has.
//
// A tabwriter keeps every cell until it is flushed (50-90 MB more RSS than CSV for a
// 200,000-row table, BenchmarkExpiringProcess/400k). Here the rows are made twice instead,
// once to measure the columns and once to write them, and no cell is kept. A table with a
// cell the tabwriter would read as more than text (a tab, a line break, its escape byte
// 0xff) goes through a tabwriter, so the output is always the tabwriter's.
func writeTable(w io.Writer, header []string, n int, row func(i int, cells []string) []string, empty string) error {
	widths := make([]int, len(header)-1) // the last column is not padded
	measure := func(cells []string) bool {
		for j, c := range cells {
			if strings.ContainsAny(c, "\t\v\n\f") || strings.IndexByte(c, tabwriter.Escape) >= 0 {
				return false
			}
			if j < len(widths) {
				widths[j] = max(widths[j], utf8.RuneCountInString(c)+2)
			}
		}
		return true
	}
	ok := measure(header)
	var cells []string
	for i := 0; ok && i < n; i++ {
		cells = row(i, cells[:0])
		ok = measure(cells)
	}
	if !ok {
		return writeTabwriter(w, header, n, row, empty)
	}
	bw := bufio.NewWriter(w)
	line := func(cells []string) {
		for j, c := range cells {
			bw.WriteString(c)
			if j < len(widths) {
				for range widths[j] - utf8.RuneCountInString(c) {
					bw.WriteByte(' ')
				}
			}
		}
		bw.WriteByte('\n')
	}
	line(header)
	for i := range n {
		cells = row(i, cells[:0])
		line(cells)
	}
	if n == 0 {
		bw.WriteString(empty + "\n")
	}
	return bw.Flush()
}

// writeTabwriter is writeTable through a tabwriter.
func writeTabwriter(w io.Writer, header []string, n int, row func(i int, cells []string) []string, empty string) error {
	bw := bufio.NewWriter(w) // the tabwriter writes every cell and its padding separately
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	io.WriteString(tw, strings.Join(header, "\t")+"\n")
	var cells []string
	for i := range n {
		cells = row(i, cells[:0])
		io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	}
	if n == 0 {
		io.WriteString(tw, empty+"\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// writeJSONList writes n values as a json.Encoder with SetIndent("", "  ") writes a list of
// them, one value at a time: the encoder would hold the whole list's encoding.
func writeJSONList(w io.Writer, n int, value func(i int) any) error {
	if n == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("[\n")
	for i := range n {
		js, err := json.MarshalIndent(value(i), "  ", "  ")
		if err != nil {
			return err
		}
		bw.WriteString("  ")
		bw.Write(js)
		if i < n-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("]\n")
	return bw.Flush()
}
