import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const FRAME_LIB = join(ROOT, 'examples', 'firmware', 'tinyml_frame');
const SHIM = join(ROOT, 'test', 'fixtures', 'arduino-host');
const STRICT = ['-Wall', '-Wextra', '-Werror'];

/** Builds the reference sketch with the host shim (C library with cc, sketch with c++); returns the program. */
export function buildSketch(dir: string): string {
  const object = join(dir, 'tinyml_frame.o');
  const program = join(dir, 'sketch');
  execFileSync('cc', ['-std=c99', '-pedantic', ...STRICT, '-c', join(FRAME_LIB, 'tinyml_frame.c'), '-o', object]);
  execFileSync('c++', [
    '-std=c++11',
    ...STRICT,
    '-include',
    'Arduino.h',
    '-I',
    SHIM,
    '-I',
    FRAME_LIB,
    '-x',
    'c++',
    join(FRAME_LIB, 'tinyml_frame.ino'),
    '-x',
    'none',
    join(SHIM, 'main.cpp'),
    object,
    '-o',
    program,
  ]);
  return program;
}

/** Compiles a C program against the frame library. */
export function buildWithFrameLib(dir: string, source: string): string {
  const program = join(dir, 'program');
  execFileSync('cc', ['-std=c99', '-pedantic', ...STRICT, '-I', FRAME_LIB, source, join(FRAME_LIB, 'tinyml_frame.c'), '-o', program]);
  return program;
}
