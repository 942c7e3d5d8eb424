// Package jsonl reads the JSON Lines session logs that coding tools keep
// locally: line by line, with line numbers, tolerating very long lines (a
// tool result can hold a whole file) and walking directory trees of them.
package jsonl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxLine is the longest line read; a longer line is reported as too long
// and skipped.
const MaxLine = 64 << 20

// ErrLineTooLong is passed to the line function for a line over MaxLine.
var ErrLineTooLong = errors.New("line longer than 64 MiB")

// Lines calls fn with each non-blank line of r and its 1-based number;
// a line over MaxLine is passed as nil with ErrLineTooLong. The slice is
// only valid during the call. An error from fn stops the reading.
func Lines(r io.Reader, fn func(n int, line []byte, err error) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than the buffer, gathered
	tooLong := false
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong {
				long = append(long, chunk...)
				if len(long) > MaxLine {
					tooLong, long = true, nil
				}
			}
			continue
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
			if len(long) > MaxLine {
				tooLong = true
			}
		}
		if len(line) > 0 || tooLong {
			n++
			var ferr error
			if tooLong {
				ferr = fn(n, nil, ErrLineTooLong)
			} else if line = bytes.TrimSpace(line); len(line) > 0 {
				ferr = fn(n, line, nil)
			}
			if ferr != nil {
				return ferr
			}
		}
		long, tooLong = nil, false
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", n+1, err)
		}
	}
}

// Files lists the *.jsonl files under root (or root itself if it is a
// file), sorted, so imports run in a stable order.
func Files(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	if !st.IsDir() {
		return []string{root}, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".jsonl") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	sort.Strings(files)
	return files, nil
}

// Each opens each *.jsonl file under root in turn and calls fn with it.
func Each(root string, fn func(name string, r io.Reader) error) error {
	files, err := Files(root)
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		err = fn(name, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
