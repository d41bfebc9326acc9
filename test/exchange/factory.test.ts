import { describe, expect, it } from "vitest";
import { defaultReplayStart } from "../../src/exchange/factory.js";

const T0 = Date.UTC(2025, 4, 25, 10, 35);
const MIN = 60_000;
const DAY = 86_400_000;

describe("the default replay start in serve", () => {
  it("is the first common bar + 7 days when the data is long enough", () => {
    expect(defaultReplayStart({ start: T0, end: T0 + 30 * DAY })).toBe(T0 + 7 * DAY);
  });

  it("with 3 days of data it leaves the last day to replay", () => {
    // Last bar opens at end, closes a minute later: start = that close − 1 day.
    expect(defaultReplayStart({ start: T0, end: T0 + 3 * DAY - MIN })).toBe(T0 + 2 * DAY);
  });

  it("never starts before every symbol has the 61 closed 1m bars the features need", () => {
    // The bar opening at T0 + 60 min closes at T0 + 61 min: the 61st bar of a file starting at T0.
    expect(defaultReplayStart({ start: T0, end: T0 + 3 * 3_600_000 })).toBe(T0 + 61 * MIN);
  });
});
