package eval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
)

// Cache is a Backend that remembers every answered request in a JSON-lines
// file, so that an interrupted evaluation (a killed process, a server that
// went away) restarts where it stopped: answered requests are read back,
// only the others reach the backend. It passes requests on in chunks and
// writes each chunk's answers before asking for the next, so an
// interruption loses at most one chunk.
//
// The file starts with a line naming the model; a cache of another model
// is refused rather than mixed in. A last line cut short by a kill is
// ignored.
type Cache struct {
	backend  Backend
	chunk    int
	path     string
	mu       sync.Mutex
	answers  map[[32]byte]Result
	replies  map[[32]byte]string
	file     *os.File
	hits     int
	identity string
}

// DefaultCacheChunk is the number of requests passed on at a time.
const DefaultCacheChunk = 64

type cacheHeader struct {
	Identity string `json:"identity"`
}

type cacheLine struct {
	Key      string  `json:"k"`
	LogLik   float64 `json:"ll,omitempty"`
	IsGreedy bool    `json:"g,omitempty"`
	// Reply is a generation request's answer.
	Reply *string `json:"r,omitempty"`
}

// OpenCache opens (or creates) the cache file at path for the model that
// identity names and puts it in front of b.
func OpenCache(path, identity string, b Backend) (*Cache, error) {
	c := &Cache{backend: b, chunk: DefaultCacheChunk, path: path, answers: map[[32]byte]Result{}, replies: map[[32]byte]string{}, identity: identity}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		hdr, _ := json.Marshal(cacheHeader{identity})
		if _, err := f.Write(append(hdr, '\n')); err != nil {
			f.Close()
			return nil, fmt.Errorf("cache %s: %w", path, err)
		}
		c.file = f
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("cache: %w", err)
	}
	lines := bytes.Split(data, []byte("\n"))
	var hdr cacheHeader
	if err := json.Unmarshal(lines[0], &hdr); err != nil || hdr.Identity == "" {
		return nil, fmt.Errorf("cache %s line 1: not a Dokja evaluation cache", path)
	}
	if hdr.Identity != identity {
		return nil, fmt.Errorf("cache %s holds answers of another model or tokenizer (%s, not %s); use another file", path, hdr.Identity, identity)
	}
	keep := len(data)
	for i, l := range lines[1:] {
		if len(l) == 0 {
			continue
		}
		var cl cacheLine
		var k []byte
		err := json.Unmarshal(l, &cl)
		if err == nil {
			k, err = hex.DecodeString(cl.Key)
		}
		if err != nil || len(k) != 32 {
			if i == len(lines)-2 {
				// The last line, cut short by a kill: dropped, and
				// overwritten by the next answer.
				keep = len(data) - len(l)
				break
			}
			return nil, fmt.Errorf("cache %s line %d: not a cached answer", path, i+2)
		}
		if cl.Reply != nil {
			c.replies[[32]byte(k)] = *cl.Reply
		} else {
			c.answers[[32]byte(k)] = Result{LogLikelihood: cl.LogLik, IsGreedy: cl.IsGreedy}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := f.Truncate(int64(keep)); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache %s: %w", path, err)
	}
	if _, err := f.Seek(int64(keep), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache %s: %w", path, err)
	}
	c.file = f
	return c, nil
}

// key identifies a request: its token ids, lengths included.
func cacheKey(r Request) [32]byte {
	h := sha256.New()
	var buf [8]byte
	for _, ids := range [][]int{r.Context, r.Continuation} {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(ids)))
		h.Write(buf[:])
		for _, id := range ids {
			binary.LittleEndian.PutUint64(buf[:], uint64(id))
			h.Write(buf[:])
		}
	}
	return [32]byte(h.Sum(nil))
}

// LogLikelihood answers from the cache what it can and asks the backend
// for the rest, chunk by chunk, recording each answer.
func (c *Cache) LogLikelihood(ctx context.Context, reqs []Request) ([]Result, error) {
	return cached(ctx, c, reqs, c.answers, cacheKey, c.backend.LogLikelihood,
		func(k [32]byte, res Result) cacheLine {
			return cacheLine{Key: hex.EncodeToString(k[:]), LogLik: res.LogLikelihood, IsGreedy: res.IsGreedy}
		})
}

// Generate implements Generator in the same way, when the backend is one.
func (c *Cache) Generate(ctx context.Context, reqs []GenRequest) ([]string, error) {
	g, ok := c.backend.(Generator)
	if !ok {
		return nil, fmt.Errorf("the backend (%T) cannot generate", c.backend)
	}
	return cached(ctx, c, reqs, c.replies, genCacheKey, g.Generate,
		func(k [32]byte, reply string) cacheLine {
			return cacheLine{Key: hex.EncodeToString(k[:]), Reply: &reply}
		})
}

// genCacheKey identifies a generation request by its JSON form, under a
// prefix no token-id key can start with.
func genCacheKey(r GenRequest) [32]byte {
	b, _ := json.Marshal(r)
	return sha256.Sum256(append([]byte("generate\x00"), b...))
}

func cached[Q, A any](ctx context.Context, c *Cache, reqs []Q, known map[[32]byte]A, key func(Q) [32]byte,
	ask func(context.Context, []Q) ([]A, error), line func([32]byte, A) cacheLine) ([]A, error) {
	out := make([]A, len(reqs))
	var todo []int
	c.mu.Lock()
	for i, r := range reqs {
		if res, ok := known[key(r)]; ok {
			out[i] = res
			c.hits++
		} else {
			todo = append(todo, i)
		}
	}
	c.mu.Unlock()
	for start := 0; start < len(todo); start += c.chunk {
		idx := todo[start:min(start+c.chunk, len(todo))]
		batch := make([]Q, len(idx))
		for j, i := range idx {
			batch[j] = reqs[i]
		}
		res, err := ask(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(res) != len(batch) {
			return nil, fmt.Errorf("backend returned %d answers for %d requests", len(res), len(batch))
		}
		var buf bytes.Buffer
		c.mu.Lock()
		for j, r := range batch {
			k := key(r)
			known[k] = res[j]
			b, err := json.Marshal(line(k, res[j]))
			if err != nil {
				c.mu.Unlock()
				return nil, err
			}
			buf.Write(append(b, '\n'))
		}
		_, err = c.file.Write(buf.Bytes())
		c.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("cache %s: %w", c.path, err)
		}
		for j, i := range idx {
			out[i] = res[j]
		}
	}
	return out, nil
}

// Hits is the number of requests answered from the cache so far.
func (c *Cache) Hits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

// Close closes the cache file.
func (c *Cache) Close() error { return c.file.Close() }
