/**
 * Live updates: listens to the console's server-sent events and, when a kind of data this page
 * follows changes (`<body data-live="intents approvals">`), fetches the page again and swaps its
 * live regions (`[data-region][id]`). A region holding a form the operator is typing in is left
 * alone until the next change, so an update never eats input.
 */

type Remount = (root: ParentNode) => void;

function editing(region: Element): boolean {
  const active = document.activeElement;
  if (active && region.contains(active) && active.closest("form")) return true;
  return [
    ...region.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("input:not([type=hidden]), textarea"),
  ].some((i) => i.value !== i.defaultValue);
}

async function refresh(remount: Remount): Promise<void> {
  const res = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (res.redirected && new URL(res.url).pathname.startsWith("/console/login")) {
    location.assign(res.url);
    return;
  }
  if (!res.ok) return;
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  for (const fresh of doc.querySelectorAll("[data-region][id]")) {
    const cur = document.getElementById(fresh.id);
    if (!cur || editing(cur)) continue;
    cur.replaceWith(document.importNode(fresh, true));
    const swapped = document.getElementById(fresh.id);
    if (swapped) remount(swapped);
  }
}

/** Starts following changes; `remount` re-draws charts in a swapped region. */
export function startLive(remount: Remount): void {
  const kinds = new Set((document.body.dataset.live ?? "").split(" ").filter(Boolean));
  if (kinds.size === 0 || !("EventSource" in window)) return;
  const es = new EventSource("/console/events");
  let timer: number | undefined;
  es.addEventListener("change", (ev) => {
    const changed = (JSON.parse((ev as MessageEvent).data) as { kinds: string[] }).kinds;
    if (!changed.some((k) => kinds.has(k))) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void refresh(remount).catch(() => {}), 250);
  });
  es.addEventListener("logout", () => {
    es.close();
    location.assign("/console/login?why=ended");
  });
  document.body.dataset.liveConnected = "yes";
}
