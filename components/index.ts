export * from "./args";
export * from "./protocol";
