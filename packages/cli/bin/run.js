#!/usr/bin/env node
import { main } from '../dist/src/main.js';

// Not awaited: a write left pending on a closed stdout (`| head`) must end the
// process with status 0, as from the start-up snapshot, not 13 (an unsettled await).
void main(process.argv.slice(2));
