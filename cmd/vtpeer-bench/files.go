package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// childEnv marks a process started by "files" as one of its peers (the test binary runs the
// command instead of its tests when it is set).
const childEnv = "VTPEER_BENCH_CHILD"

type benchFilesOptions struct {
	size    byteSize
	rounds  int
	resume  bool
	dir     string
	profile string
	timeout time.Duration
}

// newBenchFilesCmd measures a sealed file transfer against raw pion bulk, the peers' peak RSS and
// the cost of resuming.
func newBenchFilesCmd(g *globals) *cobra.Command {
	o := &benchFilesOptions{size: 1 << 30, rounds: 1, resume: true, timeout: 30 * time.Minute}
	cmd := &cobra.Command{
		Use:   "files",
		Short: "Benchmark a sealed file transfer against raw pion bulk, peak RSS and resume",
		Long: `Writes a file of --size random bytes, starts a signaling server on loopback
and, for each of --rounds, two child processes (this binary again, role
'files-peer'): a receiver (an account with light scrypt, a postbox, a receive
directory, auto-accept) and a sender, each a real vtpeer peer (signaling
client, peer.Node with --ice-loopback, app.Room) on a direct path. In the
same run, between the same pair:

  sealed  app.Room.SendFiles of the file: timed on the sender from the offer
          (after hashing the file) until the receiver confirmed it verified
          and renamed into place (MB/s of file data, 1 MB = 10^6 bytes)
  raw     the same number of messages of a sealed chunk record's size
          (30 + 32768 + 16 bytes) on a plain DataChannel of the same
          PeerConnection, with the same buffered-amount back-pressure
          (1 MiB high, 512 KiB low), no seal, nothing read or written to
          disk; timed until the receiver acknowledged the last one

and each child's peak RSS (the kernel's ru_maxrss after it exits, which
includes the raw run, and VmHWM at the end of the sealed transfer).

With --resume (the default) one more pair sends the file again into a fresh
directory; the receiver is killed (SIGKILL) once it reports half the file
on disk, a new receiver process with the same account, postbox and
directory takes its place, and the transfer completes: bytes sent after the
restart against the remainder, and the total time against the rounds'.`,
		Example: `  vtpeer-bench files
  vtpeer-bench files --size 100MiB --rounds 3 --resume=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.size < 1<<20 || o.rounds < 1 || o.timeout <= 0 {
				return usageError(errors.New("--size must be ≥ 1MiB, --rounds ≥ 1 and --timeout positive"))
			}
			return runBenchFiles(cmd.Context(), g, cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.Var(&o.size, "size", "size of the file sent (e.g. 100MiB, 1GiB)")
	f.IntVar(&o.rounds, "rounds", o.rounds, "sealed + raw measurements, each with a fresh pair of processes")
	f.BoolVar(&o.resume, "resume", o.resume, "also measure a transfer whose receiver is killed at half way and restarted")
	f.StringVar(&o.dir, "dir", "", "directory for the file and the receive directories (default: the system's temporary directory)")
	f.StringVar(&o.profile, "cpuprofile", "", "write the children's CPU profiles to this directory (send-N.pprof, recv-N.pprof)")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "limit for one pair of processes")
	return cmd
}

// pairResult is one round.
type pairResult struct {
	manifest, transfer, raw float64 // seconds
	txRSS, rxRSS            int64   // KiB, ru_maxrss
	txHWM, rxHWM            int64   // KiB, VmHWM at the end of the sealed transfer
	txAnon, rxAnon          int64   // KiB, largest RssAnon sampled during the sealed transfer
	txCPU, rxCPU            float64 // seconds of CPU (user + system) of each process, both runs
}

func runBenchFiles(ctx context.Context, g *globals, out io.Writer, o *benchFilesOptions) error {
	work, err := os.MkdirTemp(o.dir, "vtpeer-bench-files-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "payload.bin")
	if err := writeRandomFile(src, int64(o.size)); err != nil {
		return err
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}
	srv, err := signal.NewServer(&signal.ServerOptions{MaxConnsPerIP: -1})
	if err != nil {
		return err
	}
	defer srv.Close()
	url, stop, err := listenLoopback(srv)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(out, "bench files: %s of random data, %d round(s), loopback, direct path, one process per peer; load average %s\n",
		o.size.String(), o.rounds, loadAvg())
	fmt.Fprintf(out, "%-6s %8s %12s %10s %7s %20s %20s  %-6s %s\n", "round", "hash s", "sealed MB/s", "raw MB/s", "ratio", "send RSS MiB", "recv RSS MiB", "first", "CPU s/GiB")
	size := int64(o.size)
	var rs []pairResult
	for r := range o.rounds {
		dir := filepath.Join(work, fmt.Sprintf("recv-%d", r+1))
		pr, err := runPair(ctx, g, url, fmt.Sprintf("files-%d", r+1), src, dir, filepath.Join(work, fmt.Sprintf("home-%d", r+1)), o, r+1)
		if err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
		if err := sameSize(filepath.Join(dir, "payload.bin"), size); err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
		_ = os.RemoveAll(dir)
		rs = append(rs, pr)
		order := "sealed"
		if rawFirst(r + 1) {
			order = "raw"
		}
		fmt.Fprintf(out, "%-6d %8.2f %12.1f %10.1f %6.2f× %20s %20s  %-6s %s\n", r+1, pr.manifest, mbps(size, pr.transfer), mbps(size, pr.raw),
			pr.raw/pr.transfer, rssCell(pr.txRSS, pr.txHWM, pr.txAnon), rssCell(pr.rxRSS, pr.rxHWM, pr.rxAnon), order, cpuCell(size, pr.txCPU, pr.rxCPU))
	}
	if len(rs) > 1 {
		var sealed, raw, ratio []float64
		for _, pr := range rs {
			sealed = append(sealed, mbps(size, pr.transfer))
			raw = append(raw, mbps(size, pr.raw))
			ratio = append(ratio, pr.raw/pr.transfer)
		}
		fmt.Fprintf(out, "median %8s %12.1f %10.1f %6.2f×\n", "", median(sealed), median(raw), median(ratio))
	}
	fmt.Fprintln(out, "(MB/s of file data, 1 MB = 10^6 B; ratio = sealed/raw of the same round. RSS, MiB: peak of the process (ru_maxrss, raw run included),")
	fmt.Fprintln(out, " peak when the sealed transfer ended (VmHWM), largest anonymous part sampled during it (RssAnon: heap, stacks, buffers; the")
	fmt.Fprintln(out, " rest of the RSS is the mapped binary and the postbox file); first: which run came first in the round; CPU s/GiB: user + system")
	fmt.Fprintln(out, " CPU seconds of the sender and of the receiver over their whole life (both runs) per GiB of file data moved, sealed and raw)")
	if o.resume {
		var transfers []float64
		for _, pr := range rs {
			transfers = append(transfers, pr.transfer)
		}
		if err := runResume(ctx, g, out, url, src, work, o, median(transfers)); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
	}
	fmt.Fprintf(out, "load average at the end: %s\n", loadAvg())
	return nil
}

func mbps(size int64, sec float64) float64 { return float64(size) / sec / 1e6 }

func rssCell(maxrss, hwm, anon int64) string {
	return fmt.Sprintf("%.1f %.1f %.1f", float64(maxrss)/1024, float64(hwm)/1024, float64(anon)/1024)
}

// rawFirst: even rounds run the raw baseline before the transfer, odd ones after it, so that
// neither always runs first on a machine whose load changes.
func rawFirst(round int) bool { return round%2 == 0 }

// runPair runs one sender and one receiver process to the end.
func runPair(ctx context.Context, g *globals, url, room, src, dir, home string, o *benchFilesOptions, round int) (pairResult, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	raw := o.size.String()
	first := fmt.Sprintf("--raw-first=%v", rawFirst(round))
	rx, err := startFilesPeer(ctx, g, o, round, "recv", "--url", url, "--room", room, "--dir", dir, "--home", home, "--raw", raw, first)
	if err != nil {
		return pairResult{}, err
	}
	defer rx.kill()
	if _, err := rx.await(ctx, "joined"); err != nil {
		return pairResult{}, err
	}
	tx, err := startFilesPeer(ctx, g, o, round, "send", "--url", url, "--room", room, "--file", src, "--raw", raw, first)
	if err != nil {
		return pairResult{}, err
	}
	defer tx.kill()
	done, err := tx.await(ctx, "done")
	if err != nil {
		return pairResult{}, err
	}
	rxDone, err := rx.await(ctx, "done")
	if err != nil {
		return pairResult{}, err
	}
	var rawLine filesLine
	for _, l := range tx.seen { // before the transfer's lines when it ran first
		if l.Ev == "raw" {
			rawLine = l
		}
	}
	if rawLine.Ev == "" {
		if rawLine, err = tx.await(ctx, "raw"); err != nil {
			return pairResult{}, err
		}
	}
	pr := pairResult{manifest: done.Manifest, transfer: done.Transfer, raw: rawLine.Raw, txHWM: done.HWM, rxHWM: rxDone.HWM,
		txAnon: done.Anon, rxAnon: rxDone.Anon}
	if pr.txRSS, err = tx.wait(); err != nil {
		return pr, err
	}
	if pr.rxRSS, err = rx.wait(); err != nil {
		return pr, err
	}
	pr.txCPU, pr.rxCPU = tx.cpu, rx.cpu
	return pr, nil
}

// runResume sends the file into a fresh directory, kills the receiver at half way, starts
// another receiver process in its place and reports what the restart cost.
func runResume(ctx context.Context, g *globals, out io.Writer, url, src, work string, o *benchFilesOptions, uninterrupted float64) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	size := int64(o.size)
	dir, home := filepath.Join(work, "recv-resume"), filepath.Join(work, "home-resume")
	args := []string{"--url", url, "--room", "files-resume", "--dir", dir, "--home", home}
	rx1, err := startFilesPeer(ctx, g, o, 0, "recv", args...)
	if err != nil {
		return err
	}
	defer rx1.kill()
	if _, err := rx1.await(ctx, "joined"); err != nil {
		return err
	}
	tx, err := startFilesPeer(ctx, g, o, 0, "send", "--url", url, "--room", "files-resume", "--file", src)
	if err != nil {
		return err
	}
	defer tx.kill()
	var atKill int64
	for atKill < size/2 {
		l, err := rx1.await(ctx, "progress")
		if err != nil {
			return err
		}
		atKill = l.Bytes
	}
	if atKill == size {
		return fmt.Errorf("the receiver had the whole file before it reported half of it (progress comes every 250 ms): use a larger --size")
	}
	rx1.kill()
	killed := time.Now()
	_, _ = rx1.wait()
	rx2, err := startFilesPeer(ctx, g, o, 0, "recv", args...)
	if err != nil {
		return err
	}
	defer rx2.kill()
	offer, err := rx2.await(ctx, "offer")
	if err != nil {
		return err
	}
	if _, err := rx2.await(ctx, "done"); err != nil {
		return err
	}
	if _, err := rx2.wait(); err != nil { // its last lines (the final progress) follow "done"
		return err
	}
	var first, final filesLine
	for _, l := range rx2.seen {
		if l.Ev == "progress" && l.Moved > 0 {
			if first.Moved == 0 {
				first = l
			}
			final = l
		}
	}
	if final.Bytes != size {
		return fmt.Errorf("the new receiver's last progress says %d bytes of %d", final.Bytes, size)
	}
	firstAt := first.at
	done, err := tx.await(ctx, "done")
	if err != nil {
		return err
	}
	var txLast filesLine
	for _, l := range tx.seen {
		if l.Ev == "progress" {
			txLast = l
		}
	}
	if _, err := tx.wait(); err != nil {
		return err
	}
	if err := sameSize(filepath.Join(dir, "payload.bin"), size); err != nil {
		return err
	}
	held := size - final.Moved
	fmt.Fprintf(out, "\nresume: receiver killed (SIGKILL) at %s of %s on disk; a new receiver process (same account, postbox, directory) took over\n",
		mib(atKill), mib(size))
	fmt.Fprintf(out, "  new receiver held verified     %s (%s of the killed receiver's were not yet synced and recorded)\n", mib(held), mib(atKill-held))
	fmt.Fprintf(out, "  bytes sent after the restart   %s; remainder at the kill %s: %.3f×\n", mib(final.Moved), mib(size-atKill), float64(final.Moved)/float64(size-atKill))
	fmt.Fprintf(out, "  sender's chunk bytes, all runs %s for a %s file (%.3f×)\n", mib(txLast.Moved), mib(size), float64(txLast.Moved)/float64(size))
	fmt.Fprintf(out, "  restart: kill → new receiver's offer %.2f s, → its first new chunk %.2f s\n", offer.at.Sub(killed).Seconds(), firstAt.Sub(killed).Seconds())
	fmt.Fprintf(out, "  transfer time (offer → done, restart included) %.1f s; uninterrupted (median of the rounds) %.1f s: %.2f×\n",
		done.Transfer, uninterrupted, done.Transfer/uninterrupted)
	return nil
}

// cpuCell is each process's CPU seconds per GiB moved (a round moves the file twice: sealed and
// raw): sender + receiver = total.
func cpuCell(size int64, tx, rx float64) string {
	g := 2 * float64(size) / (1 << 30)
	return fmt.Sprintf("%.1f + %.1f = %.1f", tx/g, rx/g, (tx+rx)/g)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// filesPeer is a running child process and the lines it reported.
type filesPeer struct {
	role  string
	cmd   *exec.Cmd
	lines chan filesLine
	seen  []filesLine
	once  sync.Once
	rss   int64   // ru_maxrss, KiB
	cpu   float64 // user + system CPU seconds, once ended
	err   error
}

func startFilesPeer(ctx context.Context, g *globals, o *benchFilesOptions, round int, role string, args ...string) (*filesPeer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args = append([]string{"files-peer", "--role", role, "--log-level", g.logLevel, "--log-format", g.logFormat}, args...)
	if o.profile != "" && round > 0 {
		args = append(args, "--cpuprofile", filepath.Join(o.profile, fmt.Sprintf("%s-%d.pprof", role, round)),
			"--memprofile", filepath.Join(o.profile, fmt.Sprintf("%s-%d.allocs", role, round)))
	}
	// A child still running when ctx ends (a hang, a transfer slower than --timeout) gets SIGQUIT
	// first: the Go runtime writes every goroutine's stack to its stderr before it exits, so
	// a hang says where it was. SIGKILL follows if it has not ended 10 s later.
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = g.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	p := &filesPeer{role: role, cmd: cmd, lines: make(chan filesLine, 1<<16)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l filesLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				continue
			}
			l.at = time.Now()
			select {
			case p.lines <- l:
			case <-ctx.Done():
				return
			}
		}
	}()
	return p, nil
}

// await returns the next line of kind ev; an error line or the end of the process is an error.
func (p *filesPeer) await(ctx context.Context, ev string) (filesLine, error) {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				_, err := p.wait()
				return filesLine{}, fmt.Errorf("%s ended before %q: %w", p.role, ev, errors.Join(err, errors.New("no more output")))
			}
			p.seen = append(p.seen, l)
			if l.Ev == "error" {
				return l, fmt.Errorf("%s: %s", p.role, l.Err)
			}
			if l.Ev == ev {
				return l, nil
			}
		case <-ctx.Done():
			return filesLine{}, fmt.Errorf("%s: waiting for %q: %w", p.role, ev, ctx.Err())
		}
	}
}

// wait reads the rest of the output and waits for the process; it returns its peak RSS (KiB).
func (p *filesPeer) wait() (int64, error) {
	p.once.Do(func() {
		for l := range p.lines {
			p.seen = append(p.seen, l)
		}
		if err := p.cmd.Wait(); err != nil {
			p.err = fmt.Errorf("%s: %w", p.role, err)
		}
		p.rss = maxRSS(p.cmd.ProcessState)
		if ps := p.cmd.ProcessState; ps != nil {
			p.cpu = (ps.UserTime() + ps.SystemTime()).Seconds()
		}
	})
	return p.rss, p.err
}

// kill ends the process (SIGKILL) unless it ended.
func (p *filesPeer) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
	}
	_, _ = p.wait()
}

// writeRandomFile writes size pseudo-random bytes (ChaCha8: incompressible, fast) to name.
func writeRandomFile(name string, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	rng := rand.NewChaCha8(seed)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		b := buf[:min(int64(len(buf)), left)]
		_, _ = rng.Read(b)
		if _, err := f.Write(b); err != nil {
			_ = f.Close()
			return err
		}
	}
	return f.Close()
}

// sameSize checks that the received file is in place with its size (the receiver checked its
// SHA-256 against the manifest before renaming it).
func sameSize(name string, size int64) error {
	st, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("received file: %w", err)
	}
	if st.Size() != size {
		return fmt.Errorf("received file: %d bytes, want %d", st.Size(), size)
	}
	return nil
}

// loadAvg is /proc/loadavg's three load averages ("?" where absent).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
