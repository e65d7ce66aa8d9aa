// The signatures of the Unity SDK's schema types that generated classes use (namespace
// Colyseus.Schema: the Type attribute, Schema, MapSchema<T>, ArraySchema<T>), with empty bodies:
// enough for Debian's mono-mcs to check that `pyseus codegen --lang cs` output compiles.
using System;
using System.Collections.Generic;

namespace Colyseus.Schema
{
    [AttributeUsage(AttributeTargets.Field)]
    public class Type : Attribute
    {
        public int Index;
        public string FieldType;
        public System.Type ChildType;
        public string ChildPrimitiveType;

        public Type(int index, string type, System.Type childType = null, string childPrimitiveType = null)
        {
            Index = index;
            FieldType = type;
            ChildType = childType;
            ChildPrimitiveType = childPrimitiveType;
        }
    }

    public class Schema
    {
        public int __refId { get; set; }
    }

    public class MapSchema<T>
    {
        public Dictionary<string, T> items = new Dictionary<string, T>();
    }

    public class ArraySchema<T>
    {
        public List<T> items = new List<T>();
    }
}
