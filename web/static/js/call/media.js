// Camera and microphone: ask once, explain every refusal in plain words.

export class DeviceError extends Error {
  // kind: "blocked" | "missing" | "busy" | "unsupported" | "failed"
  constructor(kind, cause) {
    super(kind);
    this.kind = kind;
    this.cause = cause;
  }
}

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };

export function classify(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
    case "PermissionDeniedError":
      return "blocked";
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return "missing";
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return "busy";
    default:
      return "failed";
  }
}

// A stream with audio and (if there is a camera) video. `audioOnly` is true
// when only the camera was missing and the call can go on with sound.
export async function openDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.RTCPeerConnection) {
    throw new DeviceError("unsupported");
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: VIDEO });
    return { stream, audioOnly: false };
  } catch (err) {
    const kind = classify(err);
    if (kind !== "missing") throw new DeviceError(kind, err);
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      return { stream, audioOnly: true };
    } catch (again) {
      throw new DeviceError(classify(again), again);
    }
  }
}

export function stopStream(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

// Mute / camera off keep the tracks (and the connection) and send silence or
// black frames, so switching back is instant.
export function setKindEnabled(stream, kind, enabled) {
  for (const track of stream.getTracks()) if (track.kind === kind) track.enabled = enabled;
}
