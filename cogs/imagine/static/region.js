// Vary (Region)'s editor: mark regions on the image with a rectangle or a freehand lasso (mouse, pen or touch, all
// through pointer events), then send them with the prompt to the bot as polygons in the mask's pixels.
"use strict";

(function () {
  const main = document.getElementById("editor");
  if (!main) return;
  const maskW = Number(main.dataset.maskWidth);
  const maskH = Number(main.dataset.maskHeight);
  const stage = document.getElementById("stage");
  const img = document.getElementById("image");
  const canvas = document.getElementById("canvas");
  const ctx = canvas.getContext("2d");
  const rectTool = document.getElementById("tool-rect");
  const lassoTool = document.getElementById("tool-lasso");
  const undoBtn = document.getElementById("undo");
  const clearBtn = document.getElementById("clear");
  const prompt = document.getElementById("prompt");
  const submit = document.getElementById("submit");
  const count = document.getElementById("count");
  const status = document.getElementById("status");
  const noteBox = document.getElementById("note");

  // the bot's limits, as the server wrote them into the page: what the page sends is always accepted
  const limit = (value, fallback) => (Number.isInteger(Number(value)) && Number(value) > 0 ? Number(value) : fallback);
  const MAX_REGIONS = limit(main.dataset.maxRegions, 20);
  const MAX_POINTS = limit(main.dataset.maxPoints, 500); // of one region
  const MAX_TOTAL_POINTS = limit(main.dataset.maxTotalPoints, 2000); // of all regions together
  const LASSO_POINTS = Math.min(200, MAX_POINTS); // a lasso is simplified to at most this many, room or not
  const MIN_DRAG_CSS = 4; // a smaller drag is a tap, not a region

  let tool = "rect";
  let shapes = []; // each region: [[x, y], ...] in the image's own pixels
  let drawing = null; // {id, kind, points}
  let busy = false;
  let done = false;

  function imageSize() {
    return [img.naturalWidth || Number(img.getAttribute("width")), img.naturalHeight || Number(img.getAttribute("height"))];
  }

  // CSS pixels -> image pixels
  function scale() {
    const r = canvas.getBoundingClientRect();
    const [w, h] = imageSize();
    return { r, sx: w / r.width, sy: h / r.height, w, h };
  }

  function toImage(ev) {
    const { r, sx, sy, w, h } = scale();
    const x = Math.min(Math.max((ev.clientX - r.left) * sx, 0), w);
    const y = Math.min(Math.max((ev.clientY - r.top) * sy, 0), h);
    return [x, y];
  }

  // the stage is never taller than the screen (region.css): it needs the image's shape
  function shape() {
    const [w, h] = imageSize();
    if (w > 0 && h > 0) stage.style.setProperty("--ratio", String(w / h));
  }

  function fit() {
    shape();
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(r.width * dpr));
    canvas.height = Math.max(1, Math.round(r.height * dpr));
    draw();
  }

  function path(points, k) {
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x * k.x, y * k.y) : ctx.moveTo(x * k.x, y * k.y)));
  }

  function draw() {
    const [w, h] = imageSize();
    const k = { x: canvas.width / w, y: canvas.height / h };
    const line = Math.max(1.5, canvas.width / 400);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const all = drawing ? shapes.concat([outline(drawing)]) : shapes;
    all.forEach((points, i) => {
      if (points.length < 2) return;
      path(points, k);
      ctx.closePath();
      const live = drawing && i === all.length - 1;
      ctx.fillStyle = live ? "rgba(88, 101, 242, 0.30)" : "rgba(255, 255, 255, 0.32)";
      ctx.fill();
      ctx.lineWidth = line * 2;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.75)";
      ctx.setLineDash([]);
      ctx.stroke();
      ctx.lineWidth = line;
      ctx.strokeStyle = "#ffffff";
      ctx.setLineDash([line * 4, line * 3]);
      ctx.stroke();
    });
    ctx.setLineDash([]);
  }

  function outline(d) {
    if (d.kind === "rect") {
      const [[x0, y0], [x1, y1]] = [d.points[0], d.points[d.points.length - 1]];
      return [[Math.min(x0, x1), Math.min(y0, y1)], [Math.max(x0, x1), Math.min(y0, y1)],
        [Math.max(x0, x1), Math.max(y0, y1)], [Math.min(x0, x1), Math.max(y0, y1)]];
    }
    return d.points;
  }

  // Ramer-Douglas-Peucker: the fewest points within `eps` image pixels of the drawn line
  function simplify(points, eps) {
    if (points.length < 3) return points.slice();
    const keep = new Uint8Array(points.length);
    keep[0] = keep[points.length - 1] = 1;
    const stack = [[0, points.length - 1]];
    while (stack.length) {
      const [a, b] = stack.pop();
      const [ax, ay] = points[a];
      const [bx, by] = points[b];
      const dx = bx - ax, dy = by - ay;
      const len = Math.hypot(dx, dy);
      let worst = -1, far = 0;
      for (let i = a + 1; i < b; i++) {
        const [px, py] = points[i];
        const d = len ? Math.abs(dy * px - dx * py + bx * ay - by * ax) / len : Math.hypot(px - ax, py - ay);
        if (d > far) { far = d; worst = i; }
      }
      if (worst > 0 && far > eps) {
        keep[worst] = 1;
        stack.push([a, worst], [worst, b]);
      }
    }
    return points.filter((_, i) => keep[i]);
  }

  function area(points) {
    let s = 0;
    points.forEach(([x, y], i) => {
      const [nx, ny] = points[(i + 1) % points.length];
      s += x * ny - nx * y;
    });
    return Math.abs(s) / 2;
  }

  function pointsUsed() {
    return shapes.reduce((n, pts) => n + pts.length, 0);
  }

  function pointsLeft() {
    return MAX_TOTAL_POINTS - pointsUsed();
  }

  // the page's own notes, shown over the image (where the member is looking while drawing): an error stays until
  // the next change, a passing remark goes after a few seconds
  let noteTimer = 0;
  function note(text, kind) {
    clearTimeout(noteTimer);
    noteBox.textContent = text;
    noteBox.className = "note" + (kind ? " " + kind : "");
    noteBox.hidden = false;
    if (kind !== "error") noteTimer = setTimeout(unnote, 6000);
  }

  function unnote() {
    clearTimeout(noteTimer);
    noteBox.textContent = "";
    noteBox.hidden = true;
  }

  const FULL = () => "The regions marked use all the points one job takes (" + MAX_TOTAL_POINTS + " in all); undo " +
    "one to mark another, or draw fewer, simpler outlines.";

  // the region drawn, or null (a tap; or no room left, said on the page)
  function finish(d) {
    const { sx, sy } = scale();
    const pts = outline(d);
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const wide = (Math.max(...xs) - Math.min(...xs)) / sx, tall = (Math.max(...ys) - Math.min(...ys)) / sy;
    if (wide < MIN_DRAG_CSS || tall < MIN_DRAG_CSS) return null;
    const room = Math.min(MAX_POINTS, pointsLeft());
    if (d.kind === "rect") {
      if (room < 4) { note(FULL(), "error"); return null; }
      return pts;
    }
    if (room < 3) { note(FULL(), "error"); return null; }
    let eps = 1;
    let out = simplify(pts, eps);
    while (out.length > LASSO_POINTS) {
      eps *= 2;
      out = simplify(pts, eps);
    }
    const squeezed = out.length > room; // simplified further than usual: the points left don't allow more
    while (out.length > room) {
      eps *= 2;
      out = simplify(pts, eps);
    }
    const sent = toMask(out);
    if (out.length < 3 || area(sent) === 0) {
      note(squeezed ? FULL() : "That outline has no area to redraw; draw around the part to vary.", "error");
      return null;
    }
    if (squeezed) {
      note("That outline was simplified to " + out.length + " points: one job takes at most " + MAX_TOTAL_POINTS +
        " points in all regions together.", "");
    }
    return out;
  }

  function update() {
    const n = shapes.length;
    undoBtn.disabled = clearBtn.disabled = done || busy || n === 0;
    rectTool.disabled = lassoTool.disabled = done || busy;
    submit.disabled = done || busy || n === 0 || !prompt.value.trim();
    prompt.readOnly = done || busy;
    count.textContent = n === 0 ? "No region marked yet." : n === 1 ? "1 region marked." : n + " regions marked.";
    stage.classList.toggle("done", done);
  }

  function pick(name) {
    tool = name;
    rectTool.setAttribute("aria-pressed", String(name === "rect"));
    lassoTool.setAttribute("aria-pressed", String(name === "lasso"));
  }

  function say(text, kind, link) {
    status.textContent = "";
    status.className = kind || "";
    status.appendChild(document.createTextNode(text.replace(/\*\*|`/g, "")));
    if (link) {
      status.appendChild(document.createTextNode(" "));
      const a = document.createElement("a");
      a.href = link;
      a.rel = "noreferrer noopener";
      a.target = "_blank";
      a.textContent = "Open it in Discord";
      status.appendChild(a);
    }
  }

  canvas.addEventListener("pointerdown", (ev) => {
    if (done || busy || drawing || (ev.pointerType === "mouse" && ev.button !== 0)) return;
    if (shapes.length >= MAX_REGIONS) {
      note("That's as many regions as one job takes (" + MAX_REGIONS + "); undo one to mark another.", "error");
      return;
    }
    if (pointsLeft() < (tool === "rect" ? 4 : 3)) {
      note(FULL(), "error");
      return;
    }
    ev.preventDefault();
    canvas.setPointerCapture(ev.pointerId);
    drawing = { id: ev.pointerId, kind: tool, points: [toImage(ev)] };
    draw();
  });

  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing || ev.pointerId !== drawing.id) return;
    ev.preventDefault();
    const events = drawing.kind === "lasso" && ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
    for (const e of events.length ? events : [ev]) {
      const p = toImage(e);
      if (drawing.kind === "rect") drawing.points = [drawing.points[0], p];
      else drawing.points.push(p);
    }
    draw();
  });

  function end(ev, cancelled) {
    if (!drawing || ev.pointerId !== drawing.id) return;
    if (!cancelled) {
      const p = toImage(ev);
      if (drawing.kind === "rect") drawing.points = [drawing.points[0], p];
      else drawing.points.push(p);
      unnote(); // an earlier note no longer applies; finish may say another
      const shape = finish(drawing);
      if (shape) shapes.push(shape);
    }
    drawing = null;
    draw();
    update();
  }
  // no scrolling, zooming or flinging from a finger on the image (`touch-action: none` does most of it; a quick
  // stroke could still start a fling that swallows the next tap on a button)
  const still = (ev) => { if (ev.cancelable) ev.preventDefault(); };
  canvas.addEventListener("touchstart", still, { passive: false });
  canvas.addEventListener("touchmove", still, { passive: false });
  canvas.addEventListener("pointerup", (ev) => end(ev, false));
  canvas.addEventListener("pointercancel", (ev) => end(ev, true));

  rectTool.addEventListener("click", () => pick("rect"));
  lassoTool.addEventListener("click", () => pick("lasso"));
  undoBtn.addEventListener("click", () => { shapes.pop(); unnote(); draw(); update(); });
  clearBtn.addEventListener("click", () => { shapes = []; unnote(); draw(); update(); });
  prompt.addEventListener("input", update);
  document.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z" && ev.target !== prompt && !done && !busy) {
      ev.preventDefault();
      shapes.pop(); unnote(); draw(); update();
    }
  });

  // a region in the mask's whole pixels, as it is sent
  function toMask(pts) {
    const [w, h] = imageSize();
    const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
    return pts.map(([x, y]) => [clamp(Math.round(x * maskW / w), maskW), clamp(Math.round(y * maskH / h), maskH)]);
  }

  function mask() {
    return shapes.map((pts) => toMask(pts).flat());
  }

  submit.addEventListener("click", async () => {
    if (submit.disabled) return;
    if (shapes.length > MAX_REGIONS || pointsUsed() > MAX_TOTAL_POINTS) { note(FULL(), "error"); return; }
    busy = true;
    update();
    unnote();
    say("Sending…");
    let reply = null;
    try {
      const resp = await fetch(window.location.href, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ prompt: prompt.value, width: maskW, height: maskH, areas: mask() }),
        credentials: "omit",
        cache: "no-store",
      });
      reply = await resp.json();
    } catch (e) {
      busy = false;
      done = true;
      update();
      say("The page lost its connection to the bot, so I can't tell whether your job started. Reload this page: " +
          "it says so if the link was used, and the result appears in the channel if it started.", "error");
      return;
    }
    busy = false;
    if (reply && reply.ok) {
      done = true;
      say(reply.message, "ok", reply.link);
    } else {
      done = Boolean(reply && reply.final);
      say((reply && reply.error) || "The bot refused that.", "error");
    }
    update();
  });

  function broken() {
    note("The image didn't load. Reload this page: if the image can't be shown here, the page says why.", "error");
  }
  img.addEventListener("error", broken);
  if (img.complete && !img.naturalWidth) broken();

  shape();
  if (window.ResizeObserver) new ResizeObserver(fit).observe(canvas);
  window.addEventListener("resize", fit);
  if (img.complete) fit(); else img.addEventListener("load", fit);
  update();
})();
