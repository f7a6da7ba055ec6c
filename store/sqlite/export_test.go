package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"os"
)

// WithWriterPragmas returns opts with pragmas (such as "cache_size(-65536)")
// set on the writer's connection.
func WithWriterPragmas(opts Options, pragmas ...string) Options {
	opts.writerPragmas = pragmas
	return opts
}

// FramesWritten returns the frames s's writer appended to the write-ahead
// log since it opened.
func FramesWritten(s *Store) int64 { return s.framesTotal.Load() }

// WriterPragma returns the value of PRAGMA name on s's writer connection.
func WriterPragma(s *Store, name string) (string, error) {
	var v string
	err := s.exec(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	})
	return v, err
}

// FramesByTree reads the write-ahead log of the store s opened at path and
// counts the frames past its first skip by the b-tree their page belongs
// to now (a table's or an index's name, from dbstat; "other" for a page
// no b-tree holds, such as a free one), and the commits among them (the
// frames that end a transaction). It also returns how many valid frames
// the log holds. Only meaningful while no checkpoint has started the log
// over since skip was taken.
func FramesByTree(s *Store, path string, skip int64) (byTree map[string]int64, commits, frames int64, err error) {
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		return nil, 0, 0, err
	}
	if len(wal) < 32 {
		return map[string]int64{}, 0, 0, nil
	}
	pageSize := int(binary.BigEndian.Uint32(wal[8:12]))
	salts := wal[16:24]
	var pages []uint32
	for off := 32; off+24+pageSize <= len(wal); off += 24 + pageSize {
		if !bytes.Equal(wal[off+8:off+16], salts) {
			break
		}
		pages = append(pages, binary.BigEndian.Uint32(wal[off:off+4]))
		if int64(len(pages)) > skip && binary.BigEndian.Uint32(wal[off+4:off+8]) != 0 {
			commits++ // the frame gives the database's size: the last of a commit
		}
	}
	owner := map[uint32]string{}
	rows, err := s.readDB.Query(`SELECT name, pageno FROM dbstat`)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name string
			page uint32
		)
		if err := rows.Scan(&name, &page); err != nil {
			return nil, 0, 0, err
		}
		owner[page] = name
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, err
	}
	out := map[string]int64{}
	for i, p := range pages {
		if int64(i) < skip {
			continue
		}
		name, ok := owner[p]
		if !ok {
			name = "other"
		}
		out[name]++
	}
	return out, commits, int64(len(pages)), nil
}
