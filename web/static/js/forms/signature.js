// The resident's signature: a canvas drawn on with a finger, a stylus or a
// mouse (Pointer Events, so all three behave the same), with "undo the last
// stroke" and "clear". The strokes are kept as points, so a resized screen
// (a kiosk turned, a phone rotated) redraws them sharp instead of stretching
// a bitmap. `toBlob()` gives the PNG the server stores with the signature.
//
// The canvas must have `touch-action: none` (forms.css): otherwise a finger
// stroke scrolls the page instead of drawing.

const LINE_WIDTH = 3; // CSS pixels; pressure widens it up to twice that
const MIN_DISTANCE = 0.75; // CSS pixels between recorded points

export class SignaturePad extends EventTarget {
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.strokes = [];
    this.current = null;
    this.pointer = null;
    this.ratio = 1;
    this.onDown = (event) => this.down(event);
    this.onMove = (event) => this.move(event);
    this.onUp = (event) => this.up(event);
    canvas.addEventListener("pointerdown", this.onDown);
    canvas.addEventListener("pointermove", this.onMove);
    canvas.addEventListener("pointerup", this.onUp);
    canvas.addEventListener("pointercancel", this.onUp);
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(canvas);
    this.resize();
  }

  get empty() {
    return this.strokes.length === 0;
  }

  // Total points drawn: a single tap is not a signature.
  get points() {
    return this.strokes.reduce((sum, stroke) => sum + stroke.length, 0);
  }

  resize() {
    const rect = this.canvas.getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    // At most 2× the CSS size: sharp on a tablet, and the PNG stays small.
    this.ratio = Math.min(2, window.devicePixelRatio || 1);
    this.canvas.width = Math.round(rect.width * this.ratio);
    this.canvas.height = Math.round(rect.height * this.ratio);
    this.redraw();
  }

  position(event) {
    const rect = this.canvas.getBoundingClientRect();
    // Stored relative to the canvas's size, so they survive a resize.
    return {
      x: (event.clientX - rect.left) / rect.width,
      y: (event.clientY - rect.top) / rect.height,
      p: event.pressure > 0 && event.pointerType !== "mouse" ? event.pressure : 0.5,
    };
  }

  down(event) {
    if (this.pointer !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    this.pointer = event.pointerId;
    this.canvas.setPointerCapture?.(event.pointerId);
    this.current = [this.position(event)];
    this.strokes.push(this.current);
    this.redraw();
  }

  move(event) {
    if (event.pointerId !== this.pointer || !this.current) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    const rect = this.canvas.getBoundingClientRect();
    for (const e of events.length ? events : [event]) {
      const point = this.position(e);
      const last = this.current[this.current.length - 1];
      const dx = (point.x - last.x) * rect.width;
      const dy = (point.y - last.y) * rect.height;
      if (Math.hypot(dx, dy) >= MIN_DISTANCE) this.current.push(point);
    }
    this.redraw();
  }

  up(event) {
    if (event.pointerId !== this.pointer) return;
    this.pointer = null;
    this.current = null;
    this.changed();
  }

  changed() {
    this.dispatchEvent(new CustomEvent("change", { detail: { empty: this.empty } }));
  }

  undo() {
    this.strokes.pop();
    this.redraw();
    this.changed();
  }

  clear() {
    this.strokes = [];
    this.redraw();
    this.changed();
  }

  redraw() {
    const ctx = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    for (const stroke of this.strokes) {
      if (stroke.length === 1) {
        const [point] = stroke;
        ctx.beginPath();
        ctx.arc(point.x * width, point.y * height, LINE_WIDTH * this.ratio * 0.6, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      for (let i = 1; i < stroke.length; i += 1) {
        const a = stroke[i - 1];
        const b = stroke[i];
        ctx.lineWidth = LINE_WIDTH * this.ratio * (0.5 + (a.p + b.p) / 2);
        ctx.beginPath();
        ctx.moveTo(a.x * width, a.y * height);
        ctx.lineTo(b.x * width, b.y * height);
        ctx.stroke();
      }
    }
  }

  // The signature as a PNG (transparent background, black ink).
  toBlob() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
  }

  destroy() {
    this.observer.disconnect();
    this.canvas.removeEventListener("pointerdown", this.onDown);
    this.canvas.removeEventListener("pointermove", this.onMove);
    this.canvas.removeEventListener("pointerup", this.onUp);
    this.canvas.removeEventListener("pointercancel", this.onUp);
  }
}
