package browsertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/chromedp"
)

// Tab is one page target of a Browser. Use it from one goroutine at a time.
type Tab struct {
	Name   string
	ctx    context.Context // the target lives as long as this
	cancel context.CancelFunc

	mu         sync.Mutex
	exceptions []string
	done       chan struct{} // the console reader has returned
}

// NewTab opens a tab in a browser context of its own (its own cookies,
// storage and IndexedDB, as a separate profile would have): two such tabs
// are two users. The tab closes when t ends. name prefixes its console
// lines in the test log.
func (b *Browser) NewTab(t testing.TB, name string) *Tab {
	t.Helper()
	return b.newTab(t, name, chromedp.WithNewBrowserContext())
}

// NewSharedTab opens a tab in the browser's default context: it shares
// storage with the other shared tabs, as two tabs of one profile do.
func (b *Browser) NewSharedTab(t testing.TB, name string) *Tab {
	t.Helper()
	return b.newTab(t, name)
}

// NewTabs opens n isolated tabs named name0 … name(n-1).
func (b *Browser) NewTabs(t testing.TB, name string, n int) []*Tab {
	t.Helper()
	tabs := make([]*Tab, n)
	for i := range tabs {
		tabs[i] = b.NewTab(t, fmt.Sprintf("%s%d", name, i))
	}
	return tabs
}

func (b *Browser) newTab(t testing.TB, name string, opts ...chromedp.ContextOption) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	tab := &Tab{Name: name, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	// the first Run creates the target, which lives as long as ctx
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		t.Fatalf("browsertest: open tab %s: %v", name, err)
	}
	msgs := chromedp.Console(ctx) // subscribed from here on
	go func() {
		defer close(tab.done)
		for m, err := range msgs {
			if err != nil {
				return // the tab closed
			}
			if m.IsException() {
				tab.mu.Lock()
				tab.exceptions = append(tab.exceptions, m.Text)
				tab.mu.Unlock()
			}
			where := ""
			if m.URL != "" {
				where = fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			t.Logf("[%s] %s%s", name, m, where)
		}
	}()
	t.Cleanup(tab.Close)
	return tab
}

// Close closes the tab and waits until its console lines are logged. It is
// idempotent and called when the tab's test ends.
func (tab *Tab) Close() {
	tab.cancel()
	<-tab.done
}

// Exceptions returns the uncaught exceptions and unhandled rejections the
// tab has seen so far.
func (tab *Tab) Exceptions() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.exceptions...)
}

// CheckNoExceptions fails t for each uncaught exception of the tab.
func (tab *Tab) CheckNoExceptions(t testing.TB) {
	t.Helper()
	for _, e := range tab.Exceptions() {
		t.Errorf("[%s] uncaught: %s", tab.Name, e)
	}
}

// bound returns a context for one browser action: a child of the tab's
// context (so the target stays the same) that ends at ctx's deadline or
// when ctx ends.
func (tab *Tab) bound(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := needDeadline(ctx); err != nil {
		return nil, nil, err
	}
	dl, _ := ctx.Deadline()
	c, cancel := context.WithDeadline(tab.ctx, dl)
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop(); cancel() }, nil
}

// Do runs chromedp actions in the tab until ctx (which needs a deadline)
// ends.
func (tab *Tab) Do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	c, cancel, err := tab.bound(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		return fmt.Errorf("tab %s: %w", tab.Name, err)
	}
	return nil
}

// Navigate loads url in the tab and waits for its load event.
func (tab *Tab) Navigate(ctx context.Context, url string) error {
	return tab.Do(ctx, chromedp.Navigate(url))
}

// Run runs one chromedp action that returns a value.
func Run[T any](ctx context.Context, tab *Tab, a chromedp.Action[T]) (T, error) {
	var zero T
	c, cancel, err := tab.bound(ctx)
	if err != nil {
		return zero, err
	}
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		return zero, fmt.Errorf("tab %s: %w", tab.Name, err)
	}
	return v, nil
}

// Eval evaluates a JavaScript expression in the tab's page and decodes its
// JSON value into T; a promise is awaited.
func Eval[T any](ctx context.Context, tab *Tab, expr string) (T, error) {
	return Run(ctx, tab, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// WaitFor evaluates expr in the page every 20 ms until it is truthy and
// returns that value, or fails when ctx ends. (An interval, not animation
// frames: a tab that is not in front gets none.) Navigate first: it polls
// the page that is there. If that page's JavaScript context is replaced
// under the poll (the document a navigation loads takes over from the one
// before it a moment after Navigate returned, seen once in CI as "Cannot
// find context with specified id"), it polls again in the new one.
func WaitFor[T any](ctx context.Context, tab *Tab, expr string) (T, error) {
	for {
		v, err := Run(ctx, tab, chromedp.Poll[T](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(0)))
		if err == nil || !contextReplaced(err) || ctx.Err() != nil {
			return v, err
		}
		// Any evaluation makes chromedp take up the frame's new context
		// (chromedp issue #890); its own error, if any, is the next poll's.
		_, _ = Eval[bool](ctx, tab, "true")
	}
}

// contextReplaced reports whether err is the DevTools protocol's answer to
// an evaluation in a JavaScript context that no longer exists.
func contextReplaced(err error) bool {
	var e *cdproto.Error
	if !errors.As(err, &e) || e.Code != -32000 {
		return false
	}
	return strings.HasPrefix(e.Message, "Cannot find context with specified id") ||
		strings.HasPrefix(e.Message, "Execution context was destroyed")
}
