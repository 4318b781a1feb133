# Sourced by ./aoe, .ci/test and .ci/run: finds a JDK >= 25 and exports JAVA_HOME.
# JAVA_HOME wins when it is new enough; otherwise the newest suitable JDK under /usr/lib/jvm.

aoe_java_major() {
    # prints the feature version of "$1/bin/java", or nothing
    [ -x "$1/bin/java" ] || return 0
    "$1/bin/java" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

aoe_find_jdk() {
    local want=25 major candidate best="" best_major=0
    if [ -n "${JAVA_HOME:-}" ]; then
        major=$(aoe_java_major "$JAVA_HOME")
        if [ -n "$major" ] && [ "$major" -ge "$want" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
            return 0
        fi
    fi
    for candidate in /usr/lib/jvm/*; do
        [ -d "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
        major=$(aoe_java_major "$candidate")
        if [ -n "$major" ] && [ "$major" -ge "$want" ] && [ "$major" -gt "$best_major" ]; then
            best="$candidate"; best_major="$major"
        fi
    done
    if [ -z "$best" ]; then
        echo "aoe: no JDK 25 or newer found (JAVA_HOME=${JAVA_HOME:-unset}, nothing suitable under /usr/lib/jvm)." >&2
        echo "aoe: install one (e.g. Temurin 25) and/or set JAVA_HOME to it." >&2
        return 1
    fi
    export JAVA_HOME="$best"
}
