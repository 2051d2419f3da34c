package biolog

import (
	"bytes"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compress is a log compressed with zstd, as the recorder keeps the
// kernel's logs (goldens/logs/NAME.DISK.log.zst): mostly zeros and
// repeated data, they shrink a hundredfold.
func Compress(log []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(log, nil), nil
}

// ReadFile decodes a log file, decompressing it first if its name ends in
// ".zst".
func ReadFile(path string) (Super, []Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Super{}, nil, err
	}
	if strings.HasSuffix(path, ".zst") {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return Super{}, nil, err
		}
		defer dec.Close()
		if b, err = dec.DecodeAll(b, nil); err != nil {
			return Super{}, nil, err
		}
	}
	return Read(bytes.NewReader(b), int64(len(b)))
}
