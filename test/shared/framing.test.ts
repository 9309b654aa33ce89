import { describe, expect, it } from "vitest";
import { FrameDecoder, encodeFrame } from "../../shared/framing.ts";
import { MAX_FRAME_BYTES, type Frame } from "../../shared/protocol.ts";

const big = (chars: number): Frame => ({ t: "result", id: "call-0000001", result: { text: "é".repeat(chars) } });

describe("framing", () => {
  it("sends a small frame as one text", () => {
    const texts = encodeFrame({ t: "ping" });
    expect(texts).toEqual(['{"t":"ping"}']);
  });

  it("splits a large frame into chunks under 1 MiB and reassembles it", () => {
    const frame = big(3 * 1024 * 1024);
    const texts = encodeFrame(frame);
    expect(texts.length).toBeGreaterThan(3);
    for (const t of texts) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const decoder = new FrameDecoder();
    const out = texts.map((t) => decoder.decode(t));
    expect(out.slice(0, -1).every((f) => f === undefined)).toBe(true);
    expect(out.at(-1)).toEqual(frame);
    expect(decoder.pendingBytes).toBe(0);
  });

  it("lets other frames through between the chunks of a large one", () => {
    const texts = encodeFrame(big(2 * 1024 * 1024));
    const decoder = new FrameDecoder();
    decoder.decode(texts[0]);
    expect(decoder.decode('{"t":"progress","id":"call-0000002","progress":1}')).toEqual({ t: "progress", id: "call-0000002", progress: 1 });
    let last: Frame | undefined;
    for (const t of texts.slice(1)) last = decoder.decode(t);
    expect(last?.t).toBe("result");
  });

  it("refuses malformed, unknown, oversized and out-of-order input with a clear reason", () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.decode("{nope")).toThrow(/not valid JSON/);
    expect(() => decoder.decode('{"t":"launch"}')).toThrow(/invalid frame: t:/);
    expect(() => decoder.decode('{"t":"call","id":"x"}')).toThrow(/invalid frame/);
    expect(() => decoder.decode("x".repeat(MAX_FRAME_BYTES + 1))).toThrow(/exceeds/);
    expect(() => decoder.decode('{"t":"chunk","cid":"a","seq":1,"last":false,"data":"x"}')).toThrow(/unknown message/);
    decoder.decode('{"t":"chunk","cid":"b","seq":0,"last":false,"data":"{"}');
    expect(() => decoder.decode('{"t":"chunk","cid":"b","seq":2,"last":true,"data":"}"}')).toThrow(/out of order/);
    expect(decoder.pendingBytes).toBe(0);
  });
});
