/** The version of Stratus: `--version` of the commands, and the API document's. */
export const VERSION = '0.1.0';
