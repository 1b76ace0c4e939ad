import { expect } from "chai";
import { MARKERS, PROTOCOL_VERSION } from "../../components/guest/protocol";

describe("protocol", () => {
  it("uses distinct marker prefixes that end with a colon", () => {
    const markers = Object.values(MARKERS);
    expect(new Set(markers).size).to.equal(markers.length);
    for (const m of markers) expect(m).to.match(/^Build[A-Za-z]+:$/);
    expect(PROTOCOL_VERSION).to.be.a("number");
  });
});
