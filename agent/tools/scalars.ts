/**
 * Readers for PVE's loosely typed scalars, shared by the tool replies (replies.ts, values.ts) and the
 * event listeners. A leaf module: it imports only zod, so any of them can use it without a cycle.
 */
import { z } from "zod";

/** PVE sends numbers as numbers or strings ("1024"); both read as a number. */
export const num = z.coerce.number();

/** A 0/1 flag read leniently: true, 1 and "1" are true, any other boolean, number or string false. */
export const flag = z.union([z.boolean(), z.number(), z.string()]).transform((v) => v === true || v === 1 || v === "1");

/**
 * A flag that must be a JSON boolean or number, any non-zero number true: how the /cluster/status reply
 * in replies.ts has always read quorate, online and local (a string there fails the reply). Kept apart
 * from `flag` so moving it here changed no reading; merging the two is a change of behaviour to make on
 * purpose.
 */
export const strictFlag = z.union([z.boolean(), z.number()]).transform((v) => Boolean(v));
