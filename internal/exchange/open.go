package exchange

import (
	"fmt"
	"io"
	"os"
)

// Open opens a named input: "-" is standard input.
func Open(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: is a directory", name)
	}
	return f, st.Size(), nil
}

// Encode writes one record as a JSON line.
func Encode(w io.Writer, r *Record) error {
	b, err := MarshalRecord(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
