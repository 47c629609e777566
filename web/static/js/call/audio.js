// Hearing the other side at once.
//
// Chromium plays sound only on a page the person has interacted with ("sticky
// user activation"). A click also counts for the next page when this page
// itself navigates there on the same site (location.assign after "accept",
// a link, a form): Chromium carries the activation across such a navigation.
// So the clicks staff make anyway (sign in, "available", "accept", "join")
// are what allow the call's sound; nothing needs an extra press. A page opened
// from the address bar, a bookmark or a new tab has no activation: there the
// picture plays muted and a large notice with one button (#sound-blocked)
// turns the sound on; any other click or key on the page does too.

// For tests and support staff: <html data-sound="on|blocked">.
function mark(state) {
  document.documentElement.dataset.sound = state;
}

function remoteVideos() {
  return [...document.querySelectorAll("#remote-video, #remote-others video")].filter(
    (video) => video.srcObject,
  );
}

let waiting = false;

function showNotice(show) {
  const notice = document.getElementById("sound-blocked");
  if (notice) notice.hidden = !show;
}

// Within a click or key press: every remote video with sound.
export function unmuteAll() {
  for (const video of remoteVideos()) {
    video.muted = false;
    video.play().catch(() => {});
  }
  showNotice(false);
  mark("on");
  waiting = false;
}

function waitForGesture() {
  if (waiting) return;
  waiting = true;
  const button = document.getElementById("btn-play");
  if (button) button.onclick = unmuteAll;
  const once = (event) => {
    if (!event.isTrusted) return;
    document.removeEventListener("pointerdown", once, true);
    document.removeEventListener("keydown", once, true);
    if (waiting) unmuteAll();
  };
  document.addEventListener("pointerdown", once, true);
  document.addEventListener("keydown", once, true);
}

// Plays `video` (srcObject already set) with sound; when the browser refuses,
// plays it muted so the picture shows, and asks for one press.
export async function playWithSound(video) {
  if (waiting) video.muted = true; // once refused on this page, refused until a gesture
  try {
    await video.play();
    if (!video.muted) mark("on");
    return !video.muted;
  } catch (err) {
    // AbortError: a newer stream replaced this one; its own play() decides.
    if (err.name !== "NotAllowedError") return false;
  }
  video.muted = true;
  video.play().catch(() => {});
  mark("blocked");
  showNotice(true);
  waitForGesture();
  return false;
}

// On the staff counter: within the click that makes someone available or
// answers a ring, start (or resume) the page's AudioContext so the ring can
// sound, and play a moment of silence: the activation is then used, and
// carried to the call page the answer opens.
let context = null;

export function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  context ??= new Ctx();
  if (context.state === "suspended") context.resume().catch(() => {});
  const silence = context.createBuffer(1, 1, context.sampleRate);
  const source = context.createBufferSource();
  source.buffer = silence;
  source.connect(context.destination);
  source.start();
  return context;
}
