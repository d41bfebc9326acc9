import "./console.css";
import { mountCharts } from "./charts.js";
import { startLive } from "./live.js";

/** Entry of the console's browser bundle (built by scripts/build-console.mjs). */
function init(): void {
  void mountCharts(document);
  startLive((root) => void mountCharts(root));
  // Keyboard: "/" focuses the first filter field of the page.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target as HTMLElement;
    if (t.closest("input, textarea, select")) return;
    const first = document.querySelector<HTMLElement>(
      "main form.filters input:not([type=hidden]), main form.filters select",
    );
    if (first) {
      e.preventDefault();
      first.focus();
    }
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
