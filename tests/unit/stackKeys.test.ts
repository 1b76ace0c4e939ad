import { expect } from "chai";
import { stackKeyProblems } from "../../stack/stackKeys";

describe("the stack program's own settings (strict)", () => {
  it("accepts its settings and leaves other namespaces alone", () => {
    expect(
      stackKeyProblems(
        {
          "preloaded-cos-image:image": "{}",
          "preloaded-cos-image:name": "web",
          "preloaded-cos-image:secretEnv": "{}",
          "gcp:project": "p",
          "other:imag": "x",
        },
        "preloaded-cos-image",
      ),
    ).to.deep.equal([]);
  });

  it("names a misspelt setting and the nearest valid one", () => {
    const problems = stackKeyProblems(
      { "preloaded-cos-image:imag": "{}", "preloaded-cos-image:secretEnvs": "{}" },
      "preloaded-cos-image",
    );
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(
      /^- preloaded-cos-image:imag: is not a setting of this program\. Fix: .*image/,
    );
    expect(problems[1]).to.match(/^- preloaded-cos-image:secretEnvs: .*secretEnv/);
  });
});
