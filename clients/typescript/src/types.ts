// Type helpers over the generated contract (src/schema.ts). Everything a
// resource method accepts or returns is derived from `paths`, so a field
// added to openapi.yaml appears here after `make generate`, and a path or
// method that disappears from the contract stops the build.
import type { components, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

/** Every schema of the contract, e.g. `Schemas["Cue"]`. */
export type Schemas = components["schemas"];

export type Path = keyof paths;
export type Method = "get" | "post" | "put" | "patch" | "delete";

/** The operation object of `method path` (never when the contract has none). */
export type Operation<P extends Path, M extends Method> = NonNullable<paths[P][M]>;

type JsonOf<T> = T extends { content: { "application/json": infer B } } ? B : never;

/** JSON request body of an operation (never when it declares none). */
export type RequestBody<P extends Path, M extends Method> =
  Operation<P, M> extends { requestBody?: infer RB } ? JsonOf<NonNullable<RB>> : never;

/** Query parameters of an operation. */
export type QueryParams<P extends Path, M extends Method> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** Path parameters of an operation. */
export type PathParams<P extends Path, M extends Method> =
  Operation<P, M> extends { parameters: { path?: infer Q } } ? NonNullable<Q> : never;

type SuccessStatus = 200 | 201 | 202 | 204;

/** The JSON body of the operation's 2xx answer; undefined for 204. */
export type SuccessBody<P extends Path, M extends Method> =
  Operation<P, M> extends { responses: infer R }
    ? {
        [S in keyof R & SuccessStatus]: S extends 204 ? undefined : JsonOf<R[S]>;
      }[keyof R & SuccessStatus]
    : never;

// Names for the objects users handle most.
export type Cue = Schemas["Cue"];
export type CueDetail = Schemas["CueDetail"];
export type CueList = Schemas["CueList"];
export type CueStatus = Schemas["CueStatus"];
export type Execution = Schemas["Execution"];
export type ExecutionList = Schemas["ExecutionList"];
export type ExecutionStatus = Schemas["ExecutionStatus"];
export type OutcomeState = Schemas["OutcomeState"];
export type Worker = Schemas["Worker"];
export type Alert = Schemas["Alert"];
export type Usage = Schemas["Usage"];
export type ErrorBody = Schemas["ErrorBody"];
export type ErrorDetail = Schemas["ErrorDetail"];
export type CreateCueRequest = Schemas["CreateCueRequest"];
export type UpdateCueRequest = Schemas["UpdateCueRequest"];
export type ReportOutcomeRequest = Schemas["ReportOutcomeRequest"];
