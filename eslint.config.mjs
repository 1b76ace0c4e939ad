// ESLint flat config: typescript-eslint's type-aware recommended rules over every TypeScript file.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { productBoundary } from "./eslint.boundaries.mjs";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".cache/**", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ["./tsconfig.json", "./tsconfig.examples.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/no-floating-promises": "error",
    },
  },
  productBoundary,
  {
    files: ["tests/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-expressions": "off",
      // Test doubles are often async functions that only throw or return.
      "@typescript-eslint/require-await": "off",
    },
  },
);
