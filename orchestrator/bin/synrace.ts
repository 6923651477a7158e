#!/usr/bin/env node
import { runCli } from '../src/cli/cli';

void runCli(process.argv.slice(2));
