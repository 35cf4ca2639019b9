"""Time the live trainer's default run in headless Chromium, and how responsive the page stays.

played    the explorer as the reader sees it: press Play, wait until the whole schedule is done.
          Records the wall time, the longest gap between two animation frames, and the tasks
          over 50 ms that a PerformanceObserver ("longtask") reports.
baseline  the same training in the same page with nothing drawn: the run is stepped to the end
          in one synchronous call (the page is frozen meanwhile), so its time is the pure
          computation.
idle      the longest frame gap of the same page with nothing running, watched for up to 10 s:
          the floor that the browser and the machine's load set, whatever the explorer does.

Each CPU rate of --throttle slows the page's CPU that many times (Chrome DevTools Protocol,
Emulation.setCPUThrottlingRate), as on a slower phone. The baseline is timed at 1x only.
The page is the explorer alone (the widget's module and style, as the book ships them), served
from a local folder. Runs alternate between the two so that both see the same machine load.
Prints each run, the medians per CPU rate, and the machine's load average.

    python benchmarks/bench_live_trainer.py --runs 3 --throttle 1 4
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from lossacc.explorers import LiveTrainerExplorer

CHROMIUM = "/usr/bin/chromium"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><style>{css}</style></head>
<body><div id="host"></div><script type="module">
import widget, {{ LiveRun, presetDrops }} from "./widget.mjs";
window.longTasks = [];
new PerformanceObserver((list) => {{ for (const e of list.getEntries()) window.longTasks.push(e.duration); }})
  .observe({{ type: "longtask", buffered: true }});
const data = {data};
window.computeOnly = () => {{
  const start = performance.now();
  const run = new LiveRun(data.settings, presetDrops(data.settings.epochs, data.preset));
  while (!run.done) run.step();
  return performance.now() - start;
}};
widget.render({{ model: {{ get: () => data }}, el: document.getElementById("host") }});
</script></body></html>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def played(page: Page, url: str) -> tuple[float, float, list[float]]:
    """Seconds from Play to done, the longest frame gap (ms) and the long tasks (ms) meanwhile."""
    page.goto(url)
    page.wait_for_selector(".lx-live[data-state]")
    page.wait_for_timeout(500)  # let the first drawing of the decision regions finish
    page.evaluate("() => { window.longTasks.length = 0; }")
    page.evaluate("""() => { window.frameTimes = []; const f = (t) => { window.frameTimes.push(t);
      if (document.querySelector('.lx-live').dataset.state !== 'done') requestAnimationFrame(f); }; requestAnimationFrame(f); }""")
    start = page.evaluate("() => performance.now()")
    page.click('button[data-action="play"]')
    page.wait_for_selector('.lx-live[data-state="done"]', timeout=300_000)
    end = page.evaluate("() => performance.now()")
    gaps = page.evaluate("() => window.frameTimes.slice(1).map((t, i) => t - window.frameTimes[i])")
    return (end - start) / 1000, max(gaps), page.evaluate("() => window.longTasks")


def idle_gap(page: Page, url: str, seconds: float) -> float:
    """The longest frame gap (ms) of the explorer's page left alone for ``seconds``."""
    page.goto(url)
    page.wait_for_selector(".lx-live[data-state]")
    page.wait_for_timeout(500)
    gaps = page.evaluate(
        """(ms) => new Promise((done) => { const times = []; const f = (t) => { times.push(t);
        if (t - times[0] < ms) requestAnimationFrame(f); else done(times.slice(1).map((u, i) => u - times[i])); };
        requestAnimationFrame(f); })""",
        seconds * 1000,
    )
    return max(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (default 3)")
    parser.add_argument("--throttle", type=float, nargs="+", default=[1.0, 4.0], help="CPU slow-down rates (default 1 4)")
    args = parser.parse_args()
    if args.runs < 1 or min(args.throttle) < 1:
        sys.exit("--runs and every --throttle rate must be at least 1")
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}")
    explorer = LiveTrainerExplorer.from_settings()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "widget.mjs").write_text(explorer._esm + "\nexport { LiveRun, presetDrops };\n")
        Path(folder, "index.html").write_text(PAGE.format(css=explorer._css, data=json.dumps(explorer.data)))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=folder))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/index.html"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 390, "height": 844})
            cpu = page.context.new_cdp_session(page)
            for rate in args.throttle:
                cpu.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                walls, computes, worst_gaps, long_task_counts, worst_tasks = [], [], [], [], []
                for run in range(1, args.runs + 1):
                    wall, gap, long_tasks = played(page, url)
                    walls.append(wall)
                    worst_gaps.append(gap)
                    long_task_counts.append(len(long_tasks))
                    worst_tasks.append(max(long_tasks, default=0.0))
                    line = (
                        f"{rate:g}x CPU, run {run}: played {wall:.2f} s (longest frame gap {gap:.0f} ms, "
                        f"{len(long_tasks)} tasks over 50 ms, longest {worst_tasks[-1]:.0f} ms)"
                    )
                    if rate == 1:
                        computes.append(page.evaluate("() => window.computeOnly()") / 1000)
                        line += f"; baseline {computes[-1]:.2f} s"
                    print(line, flush=True)
                summary = (
                    f"{rate:g}x CPU, median of {args.runs}: played {statistics.median(walls):.2f} s; longest frame gap "
                    f"{statistics.median(worst_gaps):.0f} ms (worst run {max(worst_gaps):.0f} ms); tasks over 50 ms "
                    f"{statistics.median(long_task_counts):.0f} (longest {max(worst_tasks):.0f} ms)"
                )
                if computes:
                    summary += (
                        f"; baseline {statistics.median(computes):.2f} s, "
                        f"ratio {statistics.median(walls) / statistics.median(computes):.2f}"
                    )
                print(summary, flush=True)
                seconds = min(10.0, statistics.median(walls))
                print(f"{rate:g}x CPU, idle page for {seconds:.1f} s: longest frame gap {idle_gap(page, url, seconds):.0f} ms", flush=True)
            browser.close()
        server.shutdown()
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.1f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
