// Server-Sent Events over fetch: POST bodies and Authorization headers are not
// possible with EventSource, so the stream is parsed here, event by event.

/** Yields each event's parsed JSON `data` as soon as its blank line arrives. */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = eventEnd(buffer)) !== -1) {
        const raw = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end.length);
        const data = dataOf(raw);
        if (data !== null) yield JSON.parse(data);
      }
    }
    const tail = dataOf(buffer);
    if (tail !== null) yield JSON.parse(tail);
  } finally {
    reader.releaseLock();
  }
}

function eventEnd(buffer) {
  const match = /\r?\n\r?\n/.exec(buffer);
  return match ? { index: match.index, length: match[0].length } : -1;
}

function dataOf(raw) {
  const lines = raw.split(/\r?\n/).filter((l) => l.startsWith("data:"));
  if (lines.length === 0) return null;
  return lines.map((l) => l.slice(5).replace(/^ /, "")).join("\n");
}
