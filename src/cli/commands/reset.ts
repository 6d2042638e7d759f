import { requestCommand } from "../request.js";

export const command = requestCommand("reset");
