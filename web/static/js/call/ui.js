// The parts of the call screen both pages share: steps, banners, the video
// stage and its controls, the quality hint. Texts come from the page
// (data-messages, translated on the server); nothing here is hard-coded.

import { playWithSound } from "./audio.js";
import { setKindEnabled } from "./media.js";
import { connectionPath, describePath } from "./path.js";
import { watchQuality } from "./quality.js";

export function readConfig(root) {
  return { ...root.dataset, messages: JSON.parse(root.dataset.messages || "{}") };
}

export function translator(messages) {
  return (key, params = {}) => {
    let text = messages[key] ?? key;
    for (const [name, value] of Object.entries(params)) text = text.replace(`{${name}}`, value);
    return text;
  };
}

const $ = (id) => document.getElementById(id);

export class CallView {
  // `signLanguages`: interpreter languages that are signed (the visitor's
  // pages only): with such an interpreter and a staff member in the call,
  // both are shown large, side by side (updateLayout).
  constructor(t, { signLanguages = [] } = {}) {
    this.t = t;
    this.signLanguages = signLanguages;
    this.signerLarger = true;
    this.stopQuality = null;
    $("btn-swap")?.addEventListener("click", () => {
      this.signerLarger = !this.signerLarger;
      this.updateLayout({ announce: true });
    });
  }

  // Show one step section, hide the others, and move focus to its heading
  // so screen readers announce where the person is now.
  showStep(name, { focus = true } = {}) {
    for (const section of document.querySelectorAll(".call-step")) {
      section.hidden = section.id !== `step-${name}`;
    }
    for (const item of document.querySelectorAll(".call-steps [data-step]")) {
      if (item.dataset.step === name) item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
    }
    const heading = $(`step-${name}-title`);
    if (heading && focus) heading.focus({ preventScroll: false });
  }

  setText(id, text) {
    const el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  banner(id, text) {
    const el = $(id);
    if (!el) return;
    el.hidden = !text;
    if (text && el.textContent !== text) el.textContent = text;
  }

  // navigator.onLine for the "no network" banner; socket trouble elsewhere.
  // It says "offline" on networks without a default route (a branch LAN that
  // only reaches the city's server), so while signaling is joined the banner
  // stays away: the call itself shows the network works.
  watchNetwork(onChange) {
    const update = () => {
      const offline = !navigator.onLine && !this.linked;
      this.banner("banner-offline", offline ? this.t("net.offline") : "");
      if (onChange) onChange(navigator.onLine);
    };
    this.updateNetwork = update;
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    update();
  }

  // Signaling joined (true) or lost (false): see watchNetwork.
  setLinked(linked) {
    this.linked = linked;
    this.updateNetwork?.();
  }

  attachLocal(stream) {
    for (const id of ["preview-video", "local-video"]) {
      const video = $(id);
      if (video) {
        video.srcObject = stream;
        video.hidden = false;
      }
    }
  }

  // Several remote participants (an interpreter, a colleague, a warm
  // hand-over): the first one fills the main video, the others get tiles in
  // #remote-others, each with the person's name. When the main one leaves,
  // the oldest tile takes its place. `info` is the peer's signaling info
  // (role, language), kept on the element for the layout.
  attachRemote(stream, peer = "", label = "", info = {}) {
    const main = $("remote-video");
    if (!main) return;
    if (!main.dataset.peer || main.dataset.peer === peer || !peer) {
      main.dataset.peer = peer;
      main.dataset.label = label;
      this.describe(main.closest(".remote-wrap") || main, info);
      this.playRemote(main, stream);
      this.updateLayout();
      return;
    }
    const others = $("remote-others");
    if (!others) return;
    let tile = others.querySelector(`[data-peer="${CSS.escape(peer)}"]`);
    if (!tile) {
      tile = document.createElement("figure");
      tile.className = "remote-tile";
      tile.dataset.peer = peer;
      const video = document.createElement("video");
      video.autoplay = true;
      video.playsInline = true;
      video.className = "remote-tile-video";
      const caption = document.createElement("figcaption");
      tile.append(video, caption);
      others.append(tile);
    }
    this.describe(tile, info);
    const video = tile.querySelector("video");
    video.setAttribute("aria-label", label);
    tile.querySelector("figcaption").textContent = label;
    this.playRemote(video, stream);
    this.updateLayout();
  }

  // `info.sign` carries the flag over when a tile moves to the main video.
  describe(el, info) {
    el.dataset.role = info.role || "";
    el.dataset.sign = String(info.sign ?? this.signLanguages.includes(info.language || ""));
  }

  removeRemote(peer) {
    const main = $("remote-video");
    const others = $("remote-others");
    const tile = others?.querySelector(`[data-peer="${CSS.escape(peer)}"]`);
    if (tile) {
      tile.remove();
      this.updateLayout();
      return;
    }
    if (!main || main.dataset.peer !== peer) return;
    main.srcObject = null;
    main.dataset.peer = "";
    this.describe(main.closest(".remote-wrap") || main, {});
    const next = others?.querySelector(".remote-tile");
    if (next) {
      const stream = next.querySelector("video").srcObject;
      const label = next.querySelector("figcaption").textContent;
      const id = next.dataset.peer;
      const info = { role: next.dataset.role, sign: next.dataset.sign === "true" };
      next.remove();
      if (stream) this.attachRemote(stream, id, label, info);
    }
    this.updateLayout();
  }

  remoteCount() {
    const main = $("remote-video");
    const tiles = document.querySelectorAll("#remote-others .remote-tile").length;
    return tiles + (main && main.srcObject ? 1 : 0);
  }

  playRemote(video, stream) {
    if (video.srcObject === stream) return;
    video.srcObject = stream;
    playWithSound(video);
  }

  // Sign language: a deaf visitor must see the signer and the speaker at
  // once, so with a sign-language interpreter and a staff member in the call
  // both are large, side by side (the stage's data-layout="duo"); the
  // visitor's #btn-swap chooses which of the two is the larger one.
  updateLayout({ announce = false } = {}) {
    const stage = $("call-stage");
    if (!stage) return;
    const wrap = $("remote-video")?.closest(".remote-wrap");
    const items = [...document.querySelectorAll("#remote-others .remote-tile")];
    if (wrap && $("remote-video").srcObject) items.unshift(wrap);
    const signer = items.find((el) => el.dataset.sign === "true");
    const staff = items.find((el) => el.dataset.role === "staff");
    for (const el of [wrap, ...items]) el?.classList.remove("duo-large", "duo-small");
    const duo = Boolean(signer && staff);
    stage.dataset.layout = duo ? "duo" : "single";
    const swap = $("btn-swap");
    if (swap) swap.hidden = !duo;
    const caption = $("remote-name");
    if (caption) {
      caption.hidden = !duo;
      caption.textContent = $("remote-video")?.dataset.label || "";
    }
    if (!duo) {
      this.setText("layout-status", "");
      return;
    }
    const [large, small] = this.signerLarger ? [signer, staff] : [staff, signer];
    large.classList.add("duo-large");
    small.classList.add("duo-small");
    if (swap) {
      swap.querySelector(".control-text").textContent = this.t(
        this.signerLarger ? "layout.staff-larger" : "layout.signer-larger",
      );
    }
    // Said once when the visitor swaps (a live region), not on every change.
    const now = this.t(this.signerLarger ? "layout.signer-large" : "layout.staff-large");
    if (announce || !$("layout-status")?.textContent) this.setText("layout-status", now);
  }

  // A document the staff member pushed: a link (and a preview for images).
  showDocument(url, name) {
    const list = $("document-list");
    if (!list || !url.startsWith("/api/v1/documents/")) return;
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = name;
    item.append(link);
    if (/\.(png|jpe?g|webp)$/i.test(name)) {
      const img = document.createElement("img");
      img.src = url;
      img.alt = name;
      img.className = "document-preview";
      item.append(img);
    }
    list.append(item);
    $("documents").hidden = false;
  }

  clearRemote() {
    const video = $("remote-video");
    if (video) {
      video.srcObject = null;
      video.dataset.peer = "";
    }
    for (const tile of document.querySelectorAll("#remote-others .remote-tile")) tile.remove();
    this.updateLayout();
  }

  // Mute and camera-off buttons: aria-pressed carries the state, the name
  // stays the same ("Mute microphone", pressed or not).
  bindControls(stream) {
    const toggle = (id, kind) => {
      const button = $(id);
      if (!button) return;
      const hasTrack = stream.getTracks().some((track) => track.kind === kind);
      button.disabled = !hasTrack;
      button.onclick = () => {
        const pressed = button.getAttribute("aria-pressed") !== "true";
        button.setAttribute("aria-pressed", String(pressed));
        setKindEnabled(stream, kind, !pressed);
      };
    };
    toggle("btn-mute", "audio");
    toggle("btn-camera", "video");
  }

  startQuality(getPc) {
    this.stopQuality?.();
    const el = $("quality");
    const show = (lvl) => {
      if (!el) return;
      el.dataset.level = lvl;
      this.setText("quality", this.t(`quality.${lvl}`));
    };
    show("unknown");
    this.setText("call-path", "");
    let last = "unknown";
    this.stopQuality = watchQuality(getPc, (lvl) => {
      // Announce only changes: a live region repeating itself is noise.
      if (lvl !== last) {
        last = lvl;
        show(lvl);
      }
      // Direct or through the relay server (and over what), as it is now.
      connectionPath(getPc())
        .then((path) => {
          const el = $("call-path");
          if (!el || !path) return;
          el.dataset.path = path.relayed ? "relay" : "direct";
          this.setText("call-path", describePath(path, this.t));
        })
        .catch(() => {});
    });
  }

  stop() {
    this.stopQuality?.();
    this.stopQuality = null;
  }
}
