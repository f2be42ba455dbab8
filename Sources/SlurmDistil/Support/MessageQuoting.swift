/// User-supplied text inside an error message: quoted, with control characters spelled out, so that a
/// stray newline or escape in a value cannot garble or forge the message.
public enum MessageQuoting {
    public static func quote(_ text: String) -> String {
        "'" + text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "'"
    }
}
