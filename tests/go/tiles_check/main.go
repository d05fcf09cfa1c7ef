// Command tiles_check reads a Custody log through its c2sp.org/tlog-tiles API with nothing but
// golang.org/x/mod (tests/integration/test_tiles_go.py runs it against a served log).
//
//	tiles_check BASE_URL VKEY TOKEN OLD_CHECKPOINT_FILE
//
// It opens the served checkpoint and the older one with sumdb/note and the log's vkey, reads hash
// tiles through tlog.TileHashReader, checks tlog.TreeHash against the checkpoint's root, proves
// and checks the inclusion of entries read from entry bundles (tlog.ProveRecord, CheckRecord) and
// the consistency of the old checkpoint with the new (tlog.ProveTree, CheckTree), and checks that
// a tampered leaf or old root is refused. It prints one "ok ..." line per check and exits 1 on the
// first failure.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

var base, token string

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
	os.Exit(1)
}

func get(path string, auth bool) []byte {
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		fail("%v", err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fail("GET %s: %d %s %v", path, resp.StatusCode, body, err)
	}
	return body
}

// tlogPath is Go's tile path without its height element, as c2sp.org/tlog-tiles writes it.
func tlogPath(t tlog.Tile) string {
	return "/tlog/tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", height))
}

type tiles struct{ fetched int }

func (r *tiles) Height() int { return height }

func (r *tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		out[i] = get(tlogPath(t), false) // hash tiles are public
		r.fetched++
	}
	return out, nil
}

func (r *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func open(text []byte, verifier note.Verifier) tlog.Tree {
	n, err := note.Open(text, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("a checkpoint has at least three lines: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("tree size %q: %v", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		fail("root %q: %v", lines[2], err)
	}
	var h tlog.Hash
	copy(h[:], root)
	return tlog.Tree{N: size, Hash: h}
}

// entry reads entry i from its entry bundle, the partial one of the tree's size if need be.
func entry(i int64, size int64) []byte {
	n := i / (1 << height)
	w := size - n<<height
	t := tlog.Tile{H: height, L: -1, N: n, W: int(min(w, 1<<height))}
	path := "/tlog/tile/entries/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/data/", height))
	data := get(path, true)
	for k := int64(0); len(data) >= 2; k++ {
		length := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+length {
			fail("entry bundle %s is cut short", path)
		}
		if n<<height+k == i {
			return data[2 : 2+length]
		}
		data = data[2+length:]
	}
	fail("entry %d is not in %s", i, path)
	return nil
}

func min(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func main() {
	if len(os.Args) != 5 {
		fail("usage: tiles_check BASE_URL VKEY TOKEN OLD_CHECKPOINT_FILE")
	}
	base, token = strings.TrimSuffix(os.Args[1], "/"), os.Args[3]
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	oldText, err := os.ReadFile(os.Args[4])
	if err != nil {
		fail("%v", err)
	}
	tree := open(get("/tlog/checkpoint", false), verifier)
	old := open(oldText, verifier)
	fmt.Printf("ok checkpoint %d opened\n", tree.N)

	reader := &tiles{}
	thr := tlog.TileHashReader(tree, reader)
	root, err := tlog.TreeHash(tree.N, thr)
	if err != nil || root != tree.Hash {
		fail("TreeHash(%d) = %v, %v; the checkpoint says %v", tree.N, root, err, tree.Hash)
	}
	fmt.Printf("ok TreeHash(%d) from %d tiles equals the checkpoint's root\n", tree.N, reader.fetched)

	for _, i := range []int64{0, 255, 256, old.N - 1, tree.N / 2, tree.N - 1} {
		if i < 0 || i >= tree.N {
			continue
		}
		proof, err := tlog.ProveRecord(tree.N, i, thr)
		if err != nil {
			fail("ProveRecord(%d, %d): %v", tree.N, i, err)
		}
		leaf := tlog.RecordHash(entry(i, tree.N))
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, leaf); err != nil {
			fail("CheckRecord(%d): %v", i, err)
		}
		if tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash([]byte("tampered"))) == nil {
			fail("CheckRecord(%d) took a tampered entry", i)
		}
		fmt.Printf("ok entry %d included in tree %d\n", i, tree.N)
	}

	proof, err := tlog.ProveTree(tree.N, old.N, thr)
	if err != nil {
		fail("ProveTree(%d, %d): %v", tree.N, old.N, err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		fail("CheckTree(%d, %d): %v", tree.N, old.N, err)
	}
	forged := old.Hash
	forged[0] ^= 1
	if tlog.CheckTree(proof, tree.N, tree.Hash, old.N, forged) == nil {
		fail("CheckTree took a forged old root")
	}
	fmt.Printf("ok tree %d consistent with tree %d\n", tree.N, old.N)
}
