// The line between the product and what tests it: nothing under components/ imports the emulator,
// the local engine, the stack program, the tests or the benchmarks. The published package holds
// components/ alone, so such an import would also break every user's install.
export const productBoundary = {
  files: ["components/**/*.ts"],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          {
            group: [
              "**/emulator",
              "**/emulator/**",
              "**/localEngine",
              "**/localEngine/**",
              "**/stack",
              "**/stack/**",
              "**/tests/**",
              "**/bench/**",
              "**/scripts/**",
            ],
            message:
              "components/ is the product: it never imports the emulator, the local engine, the stack program, tests, benchmarks or scripts.",
          },
        ],
      },
    ],
  },
};
