// Package sysmem tells how much memory this process may still take: the
// kernel's estimate of available memory (MemAvailable in /proc/meminfo),
// lowered to what the process's cgroup limit leaves (memory.max less
// memory.current, cgroup v2). Loaders check a model's size against it
// before allocating, so that an absurd config fails with a clear error
// instead of the machine swapping or the process being killed.
package sysmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Available returns the bytes the process may still allocate, and false
// where it cannot tell (not Linux, or /proc unreadable).
func Available() (uint64, bool) {
	avail, ok := memAvailable("/proc/meminfo")
	if !ok {
		return 0, false
	}
	if left, ok := cgroupLeft("/sys/fs/cgroup"); ok && left < avail {
		avail = left
	}
	return avail, true
}

// memAvailable reads MemAvailable (kB) from a meminfo file.
func memAvailable(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}

// cgroupLeft reads memory.max and memory.current of the process's cgroup
// under root (cgroup v2; the process's own group from /proc/self/cgroup).
func cgroupLeft(root string) (uint64, bool) {
	dir := root
	if data, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if rel, ok := strings.CutPrefix(line, "0::"); ok {
				dir = root + rel
			}
		}
	}
	max, err := os.ReadFile(dir + "/memory.max")
	if err != nil {
		return 0, false
	}
	limit, err := strconv.ParseUint(strings.TrimSpace(string(max)), 10, 64)
	if err != nil { // "max": no limit
		return 0, false
	}
	cur, err := os.ReadFile(dir + "/memory.current")
	if err != nil {
		return 0, false
	}
	used, err := strconv.ParseUint(strings.TrimSpace(string(cur)), 10, 64)
	if err != nil || used > limit {
		return 0, err == nil
	}
	return limit - used, true
}

// Check returns an error naming what when it needs more bytes than are
// available; nil when it fits or availability is unknown.
func Check(what string, need float64) error {
	avail, ok := Available()
	if !ok || need <= float64(avail) {
		return nil
	}
	return fmt.Errorf("%s needs %s of memory, and %s is available", what, Bytes(need), Bytes(float64(avail)))
}

// Bytes formats a byte count for messages: "1.5 GiB".
func Bytes(n float64) string {
	const unit = 1024
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= unit && i < len(units)-1 {
		n /= unit
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
